/**
 * The Dask cluster in the front end: a cell's `cell_cluster` reaches its
 * record and the badge's tooltip, the timeline's cluster line, and the side
 * panel's "On the cluster" section (workers, holders, Release and its
 * measured outcome). The messages are the ones a real kernel and LocalCluster
 * sent (tests/fixtures/protocol, recorded by tests/test_cluster_e2e.py).
 */

/// <reference types="node" />

import * as fs from 'fs';
import * as path from 'path';

import { Widget } from '@lumino/widgets';

import { clusterLines } from '../badges/text';
import { MemoryBadge } from '../badges/badge';
import { MemoryModel } from '../model';
import { ClusterSection, holderKey, releaseText } from '../panels/cluster';
import { clusterLine } from '../panels/timeline/model';
import type {
  ICellClusterMessage,
  IReleaseClusterResult,
  IScanClusterResult
} from '../protocol';
import { MemoryDoctorSettings } from '../settings';
import type { IMemoryDoctorEntry } from '../tokens';
import { flush, makeRecord } from './fakes';
import {
  connect,
  IConnected,
  panelHarness,
  trans,
  usePanelHooks,
  XSS
} from './panel-fakes';

const FIXTURES = path.join(
  __dirname,
  '..',
  '..',
  'tests',
  'fixtures',
  'protocol',
  'messages'
);

/** A recorded message (a fresh copy). */
function recorded(name: string): any {
  const file = path.join(FIXTURES, `${name}.json`);
  return JSON.parse(fs.readFileSync(file, 'utf8')).message;
}

const units = { units: 'SI' as const, trans };

usePanelHooks();

describe('a cell on a Dask cluster', () => {
  it('fills the pending record and the tooltip when cell_cluster comes', async () => {
    const { service, comm } = await connect();
    const message: ICellClusterMessage = recorded('cell_cluster');
    const cellId = 'cell-1';
    const pending = makeRecord({
      cell_id: cellId,
      execution_count: message.execution_count,
      cluster: { pending: true, delta_bytes: null, clusters: [] }
    });
    comm().receive({ type: 'cell_measured', record: pending });
    expect(clusterLines(service.model.last(cellId), units)[0]).toContain(
      'measuring'
    );
    const changed: string[] = [];
    service.model.cellChanged.connect((_, id) => changed.push(id));
    comm().receive({ ...message, cell_id: cellId });
    expect(changed).toEqual([cellId]);
    const record = service.model.last(cellId);
    expect(record?.cluster?.delta_bytes).toBe(message.cluster.delta_bytes);
    const lines = clusterLines(record, units);
    expect(lines[0]).toBe('Dask cluster: +40 MB held by this run');
    expect(lines[1]).toMatch(/: 5 keys added \(40 MB\), 0 released/);
    expect(lines.some(l => l.startsWith('Workers (2): memory '))).toBe(true);
  });

  it('says why a cell was not measured', () => {
    const message: ICellClusterMessage = recorded('cell_cluster_unavailable');
    const record = makeRecord({ cluster: message.cluster });
    const lines = clusterLines(record, units);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /not measured: The Dask client lost its scheduler/
    );
  });

  it('puts the cluster lines on the badge tooltip, after its own', () => {
    const message: ICellClusterMessage = recorded('cell_cluster');
    const badge = new MemoryBadge({ cellId: 'cell-1' });
    badge.render([makeRecord({ cluster: message.cluster })], {
      settings: new MemoryDoctorSettings().current,
      trans
    });
    const title = badge.node.title;
    expect(title.startsWith('Memory Doctor')).toBe(true);
    expect(title).toContain('\n\nDask cluster: +40 MB held by this run');
    badge.dispose();
  });

  it('ignores a cell_cluster for a run the model no longer holds', () => {
    const model = new MemoryModel();
    const changed: string[] = [];
    model.cellChanged.connect((_, id) => changed.push(id));
    const message: ICellClusterMessage = recorded('cell_cluster');
    model.setCluster('nowhere', 1, message.cluster);
    expect(changed).toEqual([]);
    model.dispose();
  });

  it('draws a timeline point per measured run', () => {
    const ok: ICellClusterMessage = recorded('cell_cluster');
    const down: ICellClusterMessage = recorded('cell_cluster_unavailable');
    const point = (cluster: any, end: number) => ({
      cellId: 'c',
      end,
      record: makeRecord({ cluster })
    });
    const line = clusterLine([
      point(ok.cluster, 10),
      point({ pending: true, delta_bytes: null, clusters: [] }, 11),
      point(down.cluster, 12),
      point(null, 13)
    ]);
    expect(line.times).toEqual([10]);
    expect(line.memory).toEqual([ok.cluster.clusters[0].after?.memory]);
  });
});

describe('the "On the cluster" section', () => {
  let connected: IConnected;
  let section: ClusterSection;
  let questions: string[];
  let answer: boolean;

  beforeEach(async () => {
    connected = await connect();
    questions = [];
    answer = true;
    section = new ClusterSection({
      settings: connected.settings,
      trans,
      confirm: question => {
        questions.push(question);
        return Promise.resolve(answer);
      }
    });
    const entry: IMemoryDoctorEntry = {
      ...connected.entry,
      clusters: connected.service.clusters
    };
    section.setEntry(entry);
    Widget.attach(section, document.body);
  });

  afterEach(() => {
    Widget.detach(section);
    section.dispose();
  });

  /** Answer the last request of `type` with `result`. */
  function answerLast(type: string, result: unknown): void {
    const comm = connected.comm();
    const request = [...comm.sent].reverse().find(r => r.type === type);
    if (!request) {
      throw new Error(`No ${type} was requested.`);
    }
    comm.receive({
      type: 'reply',
      request_id: request.request_id,
      ok: true,
      result
    });
  }

  async function showCluster(result: IScanClusterResult): Promise<void> {
    const asked = section.refresh();
    answerLast('scan_cluster', result);
    await asked;
    await flush();
  }

  it('stays hidden for a kernel without a Dask client', async () => {
    await showCluster({ clusters: [], walk: null });
    expect(section.isHidden).toBe(true);
  });

  it('shows the workers with their headroom and the holders with what to do', async () => {
    const result: IScanClusterResult = recorded('reply_scan_cluster').result;
    await showCluster(result);
    expect(section.isHidden).toBe(false);
    const node = section.node;
    expect(node.querySelector('h3')?.textContent).toContain('On the cluster');
    const workers = node.querySelectorAll(
      '.jp-MemoryDoctor-clusterWorkers tbody tr'
    );
    expect(workers).toHaveLength(2);
    expect(workers[0].textContent).toMatch(/free of 400 MB/);
    const rows = Array.from(
      node.querySelectorAll('.jp-MemoryDoctor-clusterHolders tbody tr')
    );
    const names = rows.map(
      r => r.querySelector('.jp-MemoryDoctor-clusterNames')?.textContent
    );
    expect(names).toContain('arr');
    const shown = rows.find(r => r.textContent?.includes('Out['));
    expect(shown?.querySelector('button')?.textContent).toBe('Release');
  });

  it('releases a holder after asking, says what was freed, and asks again', async () => {
    const result: IScanClusterResult = recorded('reply_scan_cluster').result;
    await showCluster(result);
    const cluster = result.clusters[0];
    const holder = cluster.holders.find(h => h.labels.includes('shown'))!;
    const button = Array.from(section.node.querySelectorAll('button')).find(
      b =>
        b.getAttribute('aria-label') === `Release ${holder.labels.join(', ')}`
    )!;
    button.click();
    await flush();
    expect(questions).toHaveLength(1);
    expect(questions[0]).toContain('shown');
    expect(connected.service.clusters.releasing).toBe(
      holderKey(cluster.scheduler, holder)
    );
    const sent = connected.comm().sent.find(r => r.type === 'release_cluster');
    expect(sent).toMatchObject({
      scheduler: cluster.scheduler,
      holders: [holder.labels]
    });
    const released: IReleaseClusterResult = recorded(
      'reply_release_cluster'
    ).result;
    answerLast('release_cluster', released);
    await flush();
    const status = section.node.querySelector(
      '.jp-MemoryDoctor-clusterStatus'
    )?.textContent;
    expect(status).toContain(releaseText(released, units));
    expect(status).toMatch(/^Freed 16 MB on 2 workers \(estimated 16 MB\)/);
    // The cluster is asked again after the release.
    const scans = connected.comm().sent.filter(r => r.type === 'scan_cluster');
    expect(scans).toHaveLength(2);
  });

  it('sends nothing when the release is declined', async () => {
    const result: IScanClusterResult = recorded('reply_scan_cluster').result;
    await showCluster(result);
    answer = false;
    section.node
      .querySelector<HTMLButtonElement>('.jp-MemoryDoctor-clusterRelease')!
      .click();
    await flush();
    expect(questions).toHaveLength(1);
    expect(connected.comm().sent.some(r => r.type === 'release_cluster')).toBe(
      false
    );
    expect(connected.service.clusters.releasing).toBeNull();
  });

  it('reports a scheduler that did not answer, without bytes or buttons', async () => {
    const result: IScanClusterResult = recorded(
      'reply_scan_cluster_timeout'
    ).result;
    await showCluster(result);
    const problem = section.node.querySelector(
      '.jp-MemoryDoctor-clusterProblem'
    );
    expect(problem?.getAttribute('role')).toBe('alert');
    expect(problem?.textContent).toMatch(/did not answer in time/);
    expect(section.node.querySelector('.jp-MemoryDoctor-clusterWorkers')).toBe(
      null
    );
  });

  it('shows names from the kernel as text', async () => {
    const result: IScanClusterResult = recorded('reply_scan_cluster').result;
    result.clusters[0].holders[0].labels = [XSS];
    result.clusters[0].workers[0].name = XSS;
    await showCluster(result);
    expect(section.node.querySelector('img')).toBeNull();
    expect(section.node.textContent).toContain(XSS);
  });
});

describe('the side panel', () => {
  it('asks the cluster after each scan once the kernel showed a Dask client', async () => {
    const harness = await panelHarness();
    const { doctor, service } = harness;
    doctor.setCurrent({ ...harness.entry, clusters: service.clusters });
    const comm = harness.comm();
    // A cell measured with a client: its record has a cluster part.
    comm.receive({
      type: 'cell_measured',
      record: makeRecord({
        cell_id: 'cell-0',
        cluster: { pending: true, delta_bytes: null, clusters: [] }
      })
    });
    const asked = harness.panel.refresh();
    const scan = comm.sent.find(r => r.type === 'scan')!;
    comm.receive({
      type: 'reply',
      request_id: scan.request_id,
      ok: true,
      result: recorded('reply_scan').result
    });
    await flush();
    const request = comm.sent.find(r => r.type === 'scan_cluster')!;
    comm.receive({
      type: 'reply',
      request_id: request.request_id,
      ok: true,
      result: recorded('reply_scan_cluster').result
    });
    await asked;
    await flush();
    expect(harness.panel.cluster.isHidden).toBe(false);
    const widgets = (harness.panel.layout as any).widgets as Widget[];
    expect(widgets.indexOf(harness.panel.cluster)).toBe(
      widgets.indexOf(harness.panel.timeline) - 1
    );
  });

  it('sends no cluster request for a kernel that never showed a client', async () => {
    const harness = await panelHarness();
    const { doctor, service } = harness;
    doctor.setCurrent({ ...harness.entry, clusters: service.clusters });
    const comm = harness.comm();
    const asked = harness.panel.refresh();
    const scan = comm.sent.find(r => r.type === 'scan')!;
    comm.receive({
      type: 'reply',
      request_id: scan.request_id,
      ok: true,
      result: recorded('reply_scan').result
    });
    await asked;
    await flush();
    expect(comm.sent.some(r => r.type === 'scan_cluster')).toBe(false);
    expect(harness.panel.cluster.isHidden).toBe(true);
  });
});
