/**
 * The attention inspector's view model: pure functions over the weights array (no DOM), unit-tested.
 * Weights are row-major [layer][head][query][key], length layers·heads·T·T.
 */
import { xmlEscape } from '../shared/format';
import { attentionRow, type HeadChoice } from '../../src/protocol/inspect';

// The host's editor decorations read the same rows, so these live with the protocol's layout of the weights.
export { attentionRow, type HeadChoice };

/**
 * The header's words for what the panel shows. A selection longer than the model's context is cut on the left
 * (the model sees only its last tokens): the label then names the lines shown, and a note says what was left out
 * (as the stepper does).
 */
export function sourceHeading(
  src: { label: string; shown?: string },
  d: { shown: number; total: number; contextLength: number },
): { label: string; note?: string } {
  if (!(d.total > d.shown)) return { label: src.label };
  return {
    label: `${src.shown ?? src.label} (last ${d.shown} of ${d.total} tokens)`,
    note: `The model sees only the last ${d.contextLength} tokens: the start of ${src.label} is left out.`,
  };
}

export interface Dims {
  layers: number;
  heads: number;
  /** Number of tokens. */
  T: number;
}

/** The T×T matrix [query][key] of one head, or the mean over the heads of a layer. */
export function attentionMatrix(weights: Float32Array, d: Dims, layer: number, head: HeadChoice): Float32Array {
  const { heads, T } = d;
  const size = T * T;
  if (head !== 'mean') return weights.slice((layer * heads + head) * size, (layer * heads + head + 1) * size);
  const out = new Float32Array(size);
  for (let h = 0; h < heads; h++) {
    const base = (layer * heads + h) * size;
    for (let i = 0; i < size; i++) out[i] += weights[base + i];
  }
  for (let i = 0; i < size; i++) out[i] /= heads;
  return out;
}

export interface Attended {
  index: number;
  weight: number;
}

/** The k keys with the largest weight, largest first (ties: earlier token first); zero weights left out. */
export function topAttended(row: ArrayLike<number>, k: number): Attended[] {
  const ids: number[] = [];
  for (let i = 0; i < row.length; i++) if (row[i] > 0) ids.push(i);
  ids.sort((a, b) => row[b] - row[a] || a - b);
  return ids.slice(0, k).map((index) => ({ index, weight: row[index] }));
}

/** Weights below this are not tinted (and not listed as highlighted). */
export const TINT_MIN = 0.01;

/** Tokens a row tints, largest weight first. */
export function highlightedKeys(row: ArrayLike<number>): number[] {
  return topAttended(row, row.length)
    .filter((a) => a.weight >= TINT_MIN)
    .map((a) => a.index);
}

/**
 * Opacity for a weight: monotonic, 0 at 0, MAX_ALPHA at 1, clamped outside [0, 1]. The square root lifts
 * small weights so that spread-out attention over many tokens stays visible.
 */
export const MAX_ALPHA = 0.85;
export function weightToAlpha(w: number): number {
  if (!(w > 0)) return 0;
  return MAX_ALPHA * Math.sqrt(Math.min(1, w));
}

/** An RGB colour from "#rgb", "#rrggbb", "#rrggbbaa" or "rgb(a)(r, g, b…)"; undefined if it is neither. */
export function parseColor(c: string): [number, number, number] | undefined {
  const s = c.trim();
  let m = /^#([0-9a-f]{3})$/i.exec(s);
  if (m) return [0, 1, 2].map((i) => parseInt(m![1][i] + m![1][i], 16)) as [number, number, number];
  m = /^#([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(s);
  if (m) return [0, 2, 4].map((i) => parseInt(m![1].slice(i, i + 2), 16)) as [number, number, number];
  m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)/i.exec(s);
  if (m) return [Math.round(+m[1]), Math.round(+m[2]), Math.round(+m[3])];
  return undefined;
}

/** RGBA pixels (T×T, one per cell) of a matrix in colour `rgb`, opacity by `weightToAlpha`. */
export function matrixPixels(
  matrix: Float32Array,
  T: number,
  rgb: [number, number, number],
): Uint8ClampedArray<ArrayBuffer> {
  const px = new Uint8ClampedArray(T * T * 4);
  for (let i = 0; i < T * T; i++) {
    px[i * 4] = rgb[0];
    px[i * 4 + 1] = rgb[1];
    px[i * 4 + 2] = rgb[2];
    px[i * 4 + 3] = Math.round(255 * weightToAlpha(matrix[i]));
  }
  return px;
}

export interface HeatmapLayout {
  /** Cell side in CSS pixels. */
  cell: number;
  /** Room for the row labels (left) and the column labels (top); 0 when the cells are too small for text. */
  margin: number;
  /** Whole drawing. */
  width: number;
  height: number;
}

/** Cell size for T tokens within `maxSide` pixels (2 to 28 px per cell); labels only when a cell fits text. */
export function heatmapLayout(T: number, maxSide: number, labelChars = 8): HeatmapLayout {
  const guess = Math.floor((maxSide - labelChars * 7) / Math.max(1, T));
  const labelled = guess >= 10;
  const margin = labelled ? labelChars * 7 + 6 : 0;
  const cell = Math.max(2, Math.min(28, Math.floor((maxSide - margin) / Math.max(1, T))));
  const side = margin + cell * T;
  return { cell, margin, width: side, height: side };
}

/** A label shortened to `n` characters with an ellipsis. */
export function shortLabel(s: string, n = 8): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

export interface SvgOptions {
  tokens: string[];
  matrix: Float32Array;
  title: string;
  /** Cell fill (the weight sets its opacity), background, text colour. */
  color: string;
  background: string;
  foreground: string;
  /** Query row to outline, -1 for none. */
  hovered?: number;
  cell?: number;
}

/** The head view as a standalone SVG: one `<rect class="cell">` per cell, token labels on both axes. */
export function svgExport(o: SvgOptions): string {
  const T = o.tokens.length;
  const cell = o.cell ?? 16;
  const margin = 70;
  const titleH = 24;
  const w = margin + T * cell + 8;
  const h = titleH + margin + T * cell + 8;
  const y0 = titleH + margin;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="monospace" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="${xmlEscape(o.background)}"/>`,
    `<text x="4" y="16" fill="${xmlEscape(o.foreground)}" font-size="13">${xmlEscape(o.title)}</text>`,
  );
  for (let q = 0; q < T; q++) {
    for (let k = 0; k < T; k++) {
      const wgt = o.matrix[q * T + k];
      out.push(
        `<rect class="cell" x="${margin + k * cell}" y="${y0 + q * cell}" width="${cell}" height="${cell}" fill="${xmlEscape(o.color)}" fill-opacity="${weightToAlpha(wgt).toFixed(3)}"><title>${q}→${k}: ${(wgt * 100).toFixed(1)}%</title></rect>`,
      );
    }
  }
  o.tokens.forEach((t, i) => {
    const label = xmlEscape(shortLabel(t));
    const c = i * cell + cell / 2;
    out.push(
      `<text class="row-label" x="${margin - 4}" y="${y0 + c + 4}" text-anchor="end" fill="${xmlEscape(o.foreground)}">${label}</text>`,
      `<text class="col-label" transform="translate(${margin + c + 4} ${y0 - 4}) rotate(-60)" fill="${xmlEscape(o.foreground)}">${label}</text>`,
    );
  });
  if (o.hovered !== undefined && o.hovered >= 0 && o.hovered < T) {
    out.push(
      `<rect class="hovered" x="${margin}" y="${y0 + o.hovered * cell}" width="${T * cell}" height="${cell}" fill="none" stroke="${xmlEscape(o.foreground)}" stroke-width="1.5"/>`,
    );
  }
  out.push('</svg>');
  return out.join('\n');
}
