/** Building DOM without innerHTML: text from the data is always set with textContent, never parsed as HTML. */

type AttrValue = string | number | boolean | null | undefined | ((ev: Event) => void);
type Child = Node | string | null | undefined | false;

/**
 * Creates an element. attrs: `text` (textContent), `class`, `on<event>` handlers, anything else as an
 * attribute (true: present and empty; false, null, undefined: absent).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, AttrValue> = {},
  children: readonly Child[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'text') node.textContent = String(v);
    else if (k === 'class') node.className = String(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

/** Starts a download of `href` (a data: or blob: URL) as `filename`. */
export function download(filename: string, href: string): void {
  const a = h('a', { href, download: filename });
  document.body.appendChild(a);
  a.click();
  a.remove();
}
