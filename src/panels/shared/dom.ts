/**
 * The small DOM builders the side panel's parts share. Text goes in with
 * `textContent` only, since names, types and paths come from user objects.
 */

/** An element with a class and, optionally, text (never HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

let lastId = 0;

/** A fresh number for DOM ids (several panels may exist in tests). */
export function nextId(): number {
  return ++lastId;
}
