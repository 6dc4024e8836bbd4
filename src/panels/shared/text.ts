/**
 * Words the panel's parts share: pure functions to translated plain text.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

/** How many names a sentence lists before "and N more". */
const NAMES_IN_SENTENCE = 3;

/** Names for a sentence: all of up to four, else three and "N more". */
export function nameList(labels: string[], trans: TranslationBundle): string {
  if (labels.length <= NAMES_IN_SENTENCE + 1) {
    return labels.join(', ');
  }
  const rest = labels.length - NAMES_IN_SENTENCE;
  return trans._n(
    '%2 and %1 more',
    '%2 and %1 more',
    rest,
    labels.slice(0, NAMES_IN_SENTENCE).join(', ')
  );
}
