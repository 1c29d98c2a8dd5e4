/** Small DOM helpers shared by the inspector and stepper panels. */

/** Creates an element with attributes and children. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/**
 * Renders tokens as chips (one `.tok` per token, `data-index`), line breaks after newline tokens.
 * Keyboard: the strip has one tab stop; arrow keys, Home and End move the focus between chips.
 */
export function tokenStrip(container: HTMLElement, display: string[]): HTMLElement[] {
  container.replaceChildren();
  container.setAttribute('role', 'listbox');
  container.setAttribute('aria-orientation', 'horizontal');
  const chips = display.map((d, i) => {
    const c = el('span', { class: 'tok', 'data-index': String(i), role: 'option', tabindex: i === 0 ? '0' : '-1' }, d);
    c.title = `#${i} ${JSON.stringify(d)}`;
    container.append(c);
    if (d.endsWith('↵')) container.append(el('span', { class: 'tok-break', 'aria-hidden': 'true' }));
    return c;
  });
  container.onkeydown = (e) => {
    const at = chips.indexOf(document.activeElement as HTMLElement);
    if (at < 0) return;
    const to =
      e.key === 'ArrowRight' || e.key === 'ArrowDown'
        ? at + 1
        : e.key === 'ArrowLeft' || e.key === 'ArrowUp'
          ? at - 1
          : e.key === 'Home'
            ? 0
            : e.key === 'End'
              ? chips.length - 1
              : -2;
    if (to === -2) return;
    e.preventDefault();
    focusChip(chips, Math.max(0, Math.min(chips.length - 1, to)));
  };
  return chips;
}

/** Moves the strip's tab stop to chip i, and the focus too unless `moveFocus` is false. */
export function focusChip(chips: HTMLElement[], i: number, moveFocus = true): void {
  chips.forEach((c, j) => c.setAttribute('tabindex', j === i ? '0' : '-1'));
  const c = chips[i];
  if (!c) return;
  if (moveFocus) c.focus();
  c.scrollIntoView({ block: 'nearest', inline: 'nearest' });
}
