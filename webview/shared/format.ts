/** Small pure helpers shared by the panels (no DOM, so unit tests can import them). */

/** A probability as a percentage a person reads quickly: the one number formatter every front door uses. */
export { probability as pct } from '../../src/protocol/format';

/** Escapes text for XML/HTML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
