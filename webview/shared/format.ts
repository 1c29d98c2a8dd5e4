/** Small pure helpers shared by the panels (no DOM, so unit tests can import them). */

/** A probability as a percentage a person reads quickly: "42%", "3.1%", "0.04%", "<0.01%". */
export function pct(p: number): string {
  const v = p * 100;
  if (!(v > 0)) return '0%';
  if (v >= 99.95 && v < 100) return '>99.9%';
  if (v >= 10) return `${v.toFixed(0)}%`;
  if (v >= 1) return `${v.toFixed(1)}%`;
  if (v >= 0.01) return `${v.toFixed(2)}%`;
  return '<0.01%';
}

/** Escapes text for XML/HTML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
