/** Canvas drawing for the attention inspector: the head view heatmap and the model view thumbnails. */
import { themeColor } from '../shared/vscode';
import { type HeatmapLayout, matrixPixels, parseColor, shortLabel } from './viewModel';

export interface Colors {
  accent: string;
  accentRgb: [number, number, number];
  background: string;
  foreground: string;
  outline: string;
  grid: string;
  /** Editor font family, for labels. */
  font: string;
}

/** Colours from the current theme, the accent also as RGB (canvas normalises any CSS colour to #rrggbb). */
export function themeColors(): Colors {
  const accent = themeColor('charts-blue', '#3794ff');
  const ctx = document.createElement('canvas').getContext('2d')!;
  ctx.fillStyle = accent;
  return {
    accent,
    accentRgb: parseColor(ctx.fillStyle) ?? [55, 148, 255],
    background: themeColor('editor-background', '#1e1e1e'),
    foreground: themeColor('foreground', '#cccccc'),
    outline: themeColor('focusBorder', '#007fd4'),
    grid: themeColor('editorWidget-border', 'rgba(128,128,128,0.35)'),
    font: themeColor('editor-font-family', 'monospace'),
  };
}

/** A T×T canvas, one pixel per cell, to be scaled up with smoothing off. */
export function matrixImage(matrix: Float32Array, T: number, rgb: [number, number, number]): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = c.height = Math.max(1, T);
  if (T > 0) c.getContext('2d')!.putImageData(new ImageData(matrixPixels(matrix, T, rgb), T, T), 0, 0);
  return c;
}

function prepare(canvas: HTMLCanvasElement, w: number, h: number): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.imageSmoothingEnabled = false;
  return ctx;
}

/** The head view: cells, token labels when they fit, the hovered query row outlined. */
export function drawHeatmap(
  canvas: HTMLCanvasElement,
  img: HTMLCanvasElement,
  tokens: string[],
  L: HeatmapLayout,
  c: Colors,
  hovered: number,
): void {
  const T = tokens.length;
  const ctx = prepare(canvas, L.width, L.height);
  ctx.fillStyle = c.background;
  ctx.fillRect(0, 0, L.width, L.height);
  const m = L.margin;
  const side = T * L.cell;
  ctx.strokeStyle = c.grid;
  ctx.lineWidth = 1;
  ctx.strokeRect(m - 0.5, m - 0.5, side + 1, side + 1);
  ctx.drawImage(img, m, m, side, side);
  if (m > 0) {
    ctx.fillStyle = c.foreground;
    ctx.font = `${Math.min(12, L.cell - 1)}px ${c.font}`;
    ctx.textBaseline = 'middle';
    tokens.forEach((t, i) => {
      const mid = m + i * L.cell + L.cell / 2;
      ctx.globalAlpha = hovered < 0 || i === hovered ? 1 : 0.7;
      ctx.textAlign = 'right';
      ctx.fillText(shortLabel(t), m - 4, mid);
      ctx.save();
      ctx.translate(mid, m - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = 'left';
      ctx.fillText(shortLabel(t), 0, 0);
      ctx.restore();
    });
    ctx.globalAlpha = 1;
  }
  if (hovered >= 0 && hovered < T) {
    ctx.strokeStyle = c.outline;
    ctx.lineWidth = 2;
    ctx.strokeRect(m - 1, m + hovered * L.cell - 1, side + 2, L.cell + 2);
  }
}

/** A model view thumbnail; with a hovered token its row stays bright and the others are dimmed. */
export function drawThumb(
  canvas: HTMLCanvasElement,
  img: HTMLCanvasElement,
  T: number,
  size: number,
  c: Colors,
  hovered: number,
): void {
  const ctx = prepare(canvas, size, size);
  ctx.fillStyle = c.background;
  ctx.fillRect(0, 0, size, size);
  ctx.drawImage(img, 0, 0, size, size);
  if (hovered >= 0 && hovered < T) {
    const cell = size / T;
    ctx.globalAlpha = 0.6;
    ctx.fillStyle = c.background;
    ctx.fillRect(0, 0, size, hovered * cell);
    ctx.fillRect(0, (hovered + 1) * cell, size, size - (hovered + 1) * cell);
    ctx.globalAlpha = 1;
    ctx.strokeStyle = c.outline;
    ctx.lineWidth = 1;
    ctx.strokeRect(0.5, hovered * cell, size - 1, Math.max(1, cell));
  }
}
