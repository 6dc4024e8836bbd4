/**
 * The confirmation before a destructive fix: the dialog, its words, and what
 * each target is, in words a person recognises. Text only: names and paths
 * come from user data.
 */

import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { FixAction, IResource, ISuggestion } from '../../protocol';

/**
 * What a suggestion acts on, one line per target: resource ids (of resource
 * actions) become `label (detail)`; names stay as they are. A fix with no
 * targets acts on everything of its kind, which the line then says.
 */
export function describeTargets(
  suggestion: ISuggestion,
  resources: readonly IResource[],
  trans: TranslationBundle
): string[] {
  if (suggestion.targets.length === 0) {
    switch (suggestion.action) {
      case 'close_figures':
        return [trans.__('every open pyplot figure')];
      case 'reset_output_cache':
        return [trans.__('Out and _, __, ___, _n')];
      case 'clear_traceback':
        return [trans.__('sys.last_value, sys.last_traceback, sys.last_exc')];
      default:
        return [];
    }
  }
  const byId = new Map(resources.map(r => [r.id, r]));
  return suggestion.targets.map(target => {
    const resource = byId.get(target);
    if (!resource) {
      return target;
    }
    return resource.detail
      ? `${resource.label} (${resource.detail})`
      : resource.label;
  });
}

/** The word on the button that confirms an action, e.g. `Delete`. */
export function confirmLabel(
  action: FixAction,
  trans: TranslationBundle
): string {
  switch (action) {
    case 'delete_holder':
      return trans.__('Delete');
    case 'close_resource':
    case 'close_pool':
    case 'close_figures':
      return trans.__('Close');
    case 'terminate_process':
      return trans.__('Terminate');
    case 'cancel_task':
      return trans.__('Cancel task');
    case 'clear_traceback':
    case 'cache_clear':
    case 'reset_output_cache':
    case 'clear_log_buffer':
      return trans.__('Clear');
    case 'clear_class_attribute':
      return trans.__('Empty');
    case 'copy_view':
      return trans.__('Replace with a copy');
    case 'gc_collect':
    case 'malloc_trim':
      return trans.__('Run');
  }
}

/** The sentence before the list of targets in the confirmation. */
export function confirmLead(
  action: FixAction,
  trans: TranslationBundle
): string {
  switch (action) {
    case 'delete_holder':
      return trans.__(
        'These names will be deleted from the kernel. Anything they alone hold is lost:'
      );
    case 'clear_traceback':
      return trans.__(
        'The last exception and the variables of its frames will be cleared:'
      );
    case 'reset_output_cache':
      return trans.__('The output cache will be emptied:');
    case 'cache_clear':
      return trans.__('The cache of this function will be cleared:');
    case 'clear_class_attribute':
      return trans.__('This class attribute will be emptied in place:');
    case 'copy_view':
      return trans.__(
        'This variable will be rebound to a copy of its view, releasing the large array behind it:'
      );
    case 'close_resource':
    case 'close_pool':
    case 'close_figures':
      return trans.__(
        'These will be closed; code that still uses them will fail:'
      );
    case 'terminate_process':
      return trans.__(
        'This child process will be terminated (killed after 3 s if it does not stop):'
      );
    case 'cancel_task':
      return trans.__('This asyncio task will be cancelled:');
    case 'clear_log_buffer':
      return trans.__(
        "This logging handler's buffered records will be dropped, not written:"
      );
    case 'gc_collect':
    case 'malloc_trim':
      return trans.__('This will run in the kernel:');
  }
}

/**
 * Ask, in a dialog, whether to apply a destructive fix. The body names every
 * target (as text: names and paths come from user data) and shows the
 * equivalent code; the accept button says what will happen.
 */
export async function confirmFix(
  suggestion: ISuggestion,
  targets: string[],
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Apply this fix?'),
    body: new Widget({ node: confirmBody(suggestion, targets, trans) }),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: confirmLabel(suggestion.action, trans) })
    ],
    defaultButton: 0
  });
  return result.button.accept;
}

/** The confirmation's body; text only. */
export function confirmBody(
  suggestion: ISuggestion,
  targets: string[],
  trans: TranslationBundle
): HTMLElement {
  const body = document.createElement('div');
  body.className = 'jp-MemoryDoctor-fixConfirm';
  const lead = document.createElement('p');
  lead.textContent = confirmLead(suggestion.action, trans);
  body.appendChild(lead);
  const list = document.createElement('ul');
  list.className = 'jp-MemoryDoctor-fixTargets';
  for (const target of targets) {
    const item = document.createElement('li');
    const code = document.createElement('code');
    code.textContent = target;
    item.appendChild(code);
    list.appendChild(item);
  }
  body.appendChild(list);
  if (suggestion.code) {
    const same = document.createElement('p');
    same.textContent = trans.__('The same as running:');
    body.appendChild(same);
    const pre = document.createElement('pre');
    pre.className = 'jp-MemoryDoctor-fixCode';
    pre.textContent = suggestion.code;
    body.appendChild(pre);
  }
  return body;
}

/**
 * Ask once, in a dialog, whether to apply several fixes ("Apply all"): each
 * fix's title and what it acts on (as text), and its code.
 */
export async function confirmFixes(
  fixes: { suggestion: ISuggestion; targets: string[] }[],
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title: trans._n('Apply this fix?', 'Apply these %1 fixes?', fixes.length),
    body: new Widget({ node: confirmAllBody(fixes, trans) }),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({
        label: trans._n('Apply %1 fix', 'Apply %1 fixes', fixes.length)
      })
    ],
    defaultButton: 0
  });
  return result.button.accept;
}

/** The body of the "Apply all" confirmation; text only. */
export function confirmAllBody(
  fixes: { suggestion: ISuggestion; targets: string[] }[],
  trans: TranslationBundle
): HTMLElement {
  const body = document.createElement('div');
  body.className = 'jp-MemoryDoctor-fixConfirm';
  const lead = document.createElement('p');
  lead.textContent = trans.__(
    'Each fix runs in the kernel in turn; what it deletes or closes is lost:'
  );
  body.appendChild(lead);
  const list = document.createElement('ol');
  list.className = 'jp-MemoryDoctor-fixTargets';
  for (const { suggestion, targets } of fixes) {
    const item = document.createElement('li');
    const what = document.createElement('div');
    what.textContent = confirmLead(suggestion.action, trans);
    item.appendChild(what);
    for (const target of targets) {
      const code = document.createElement('code');
      code.textContent = target;
      item.appendChild(code);
      item.appendChild(document.createTextNode(' '));
    }
    if (suggestion.code) {
      const pre = document.createElement('pre');
      pre.className = 'jp-MemoryDoctor-fixCode';
      pre.textContent = suggestion.code;
      item.appendChild(pre);
    }
    list.appendChild(item);
  }
  body.appendChild(list);
  return body;
}
