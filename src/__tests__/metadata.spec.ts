import { Notebook, NotebookModel } from '@jupyterlab/notebook';

import { MetadataWriter } from '../metadata';
import { MemoryModel } from '../model';
import { MemoryDoctorSettings } from '../settings';
import { METADATA_KEY } from '../tokens';
import { makeRecord } from './fakes';

describe('MetadataWriter', () => {
  let notebookModel: NotebookModel;
  let model: MemoryModel;
  let settings: MemoryDoctorSettings;
  let writer: MetadataWriter;

  beforeEach(() => {
    notebookModel = new NotebookModel();
    notebookModel.sharedModel.insertCells(0, [
      { cell_type: 'code', source: 'a' },
      { cell_type: 'code', source: 'b' }
    ]);
    model = new MemoryModel();
    settings = new MemoryDoctorSettings();
    writer = new MetadataWriter({
      notebook: { model: notebookModel } as unknown as Notebook,
      model,
      settings
    });
  });

  afterEach(() => {
    writer.dispose();
    model.dispose();
    settings.dispose();
    notebookModel.dispose();
  });

  const cell = (index: number) => notebookModel.cells.get(index);

  it('never touches metadata unless asked to', async () => {
    const first = cell(0);
    model.addRecord(makeRecord({ cell_id: first.id }));
    expect(first.getMetadata(METADATA_KEY)).toBeUndefined();
    await settings.set('storeInMetadata', true);
    model.replay([makeRecord({ cell_id: first.id, started_at: 5 })]);
    expect(first.getMetadata(METADATA_KEY)).toBeUndefined();
    model.addRecord(makeRecord({ cell_id: first.id, rss_delta: 7 }));
    expect(first.getMetadata(METADATA_KEY)).toMatchObject({
      rss_delta: 7,
      peak_method: 'vmhwm'
    });
    expect(first.getMetadata(METADATA_KEY)).not.toHaveProperty('cell_id');
    expect(cell(1).getMetadata(METADATA_KEY)).toBeUndefined();
  });

  it('finds cells added after the first write, and ignores unknown ones', async () => {
    await settings.set('storeInMetadata', true);
    model.addRecord(makeRecord({ cell_id: cell(0).id }));
    notebookModel.sharedModel.insertCell(0, {
      cell_type: 'code',
      source: 'new'
    });
    model.addRecord(makeRecord({ cell_id: cell(0).id, rss_delta: 3 }));
    expect(cell(0).getMetadata(METADATA_KEY)).toMatchObject({ rss_delta: 3 });
    model.addRecord(makeRecord({ cell_id: 'gone' }));
  });

  it('stops writing once disposed', async () => {
    await settings.set('storeInMetadata', true);
    writer.dispose();
    writer.dispose();
    model.addRecord(makeRecord({ cell_id: cell(0).id }));
    expect(cell(0).getMetadata(METADATA_KEY)).toBeUndefined();
  });
});
