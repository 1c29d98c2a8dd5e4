/**
 * Attention inspector and generation stepper: what the worker computes and what the panels receive.
 * Attention travels as one Float32Array, never as nested JSON.
 */

/** The BPE tokens of a text, with where each sits in it (for editor decorations). */
export interface TokenStrip {
  ids: number[];
  /** Human-readable token text, whitespace made visible (·, →, ↵). */
  display: string[];
  /** Each token's [start, end) in UTF-16 code units of the inspected text. */
  offsets: [number, number][];
}

export interface AttentionData {
  /** The last `contextLength` tokens of the text at most: what the model sees. */
  tokens: TokenStrip;
  /** Tokens in the whole text; more than tokens.ids.length when it was cut on the left to fit the context. */
  totalTokens: number;
  contextLength: number;
  layers: number;
  heads: number;
  /** T = tokens.ids.length. */
  /** Softmaxed weights, row-major [layer][head][query][key], length layers·heads·T·T; zero above the diagonal. */
  weights: Float32Array;
}

export interface TokenChoice {
  token: number;
  display: string;
  logit: number;
}

export interface StepData {
  tokens: TokenStrip;
  /** Every next-token logit [V]: the panel computes exact probabilities at any temperature, top-k and top-p. */
  logits: Float32Array;
  /** The most likely next tokens by raw logit, best first (up to 50), with their text. */
  candidates: TokenChoice[];
  /** Logit lens: for each layer (after its block, through the final LayerNorm and head), its top guesses. */
  lens: { layer: number; top: { display: string; prob: number }[] }[];
  /** Positions the model can see; the prompt was cut on the left to fit. */
  contextLength: number;
}

/** host → inspector webview */
export type InspectorInbound =
  | { type: 'attention'; data: AttentionData; source: string }
  | { type: 'focus'; token: number }
  | { type: 'error'; message: string };

/** inspector webview → host */
export type InspectorOutbound =
  | { type: 'ready' }
  /** The user hovers or selects a token (-1: none): the editor tints what it attends to. */
  | { type: 'hover'; token: number; layer: number; head: number | 'mean' }
  | { type: 'export'; format: 'svg' | 'png'; data: string }
  /** The panel has drawn the data it was sent (for the benchmark of command → drawn panel). */
  | { type: 'drawn' };

/** host → stepper webview */
export type StepperInbound =
  /** promptLength: how many of data.tokens are the user's prompt (the rest were chosen in the panel). */
  { type: 'step'; data: StepData; promptLength: number } | { type: 'busy' } | { type: 'error'; message: string };

/** stepper webview → host */
export type StepperOutbound =
  | { type: 'ready' }
  /** Append this token to the prompt and compute the next step. */
  | { type: 'choose'; token: number }
  /** Drop the last appended token. */
  | { type: 'undo' }
  | { type: 'reset' };

/** Which head a view shows: one head, or the mean of all heads. */
export type HeadChoice = number | 'mean';

/** What token `query` attends to: one row [key] of the weights (laid out [layer][head][query][key]). */
export function attentionRow(
  weights: Float32Array,
  layers: number,
  heads: number,
  T: number,
  layer: number,
  head: HeadChoice,
  query: number,
): Float32Array {
  if (!(layer >= 0 && layer < layers && query >= 0 && query < T)) throw new RangeError(`no row ${layer}/${query}`);
  const out = new Float32Array(T);
  const hs = head === 'mean' ? Array.from({ length: heads }, (_, h) => h) : [head];
  for (const h of hs) {
    const base = ((layer * heads + h) * T + query) * T;
    for (let k = 0; k < T; k++) out[k] += weights[base + k];
  }
  if (hs.length > 1) for (let k = 0; k < T; k++) out[k] /= hs.length;
  return out;
}

// ---- validation of what the webviews send (plain functions, no vscode: unit tests import them) ---------------

const isObject = (m: unknown): m is Record<string, unknown> => typeof m === 'object' && m !== null && !Array.isArray(m);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
/** Largest exported picture (characters of a data URL or SVG text) the host writes to disk. */
export const MAX_EXPORT_CHARS = 50_000_000;

/** A message from the inspector webview if it has the promised shape (a fresh object of its fields), else undefined. */
export function parseInspectorOutbound(m: unknown): InspectorOutbound | undefined {
  if (!isObject(m)) return undefined;
  switch (m.type) {
    case 'ready':
    case 'drawn':
      return { type: m.type };
    case 'hover': {
      const { token, layer, head } = m;
      if (!isInt(token) || !isInt(layer) || !(isInt(head) || head === 'mean')) return undefined;
      return { type: 'hover', token, layer, head };
    }
    case 'export': {
      const { format, data } = m;
      if ((format !== 'svg' && format !== 'png') || typeof data !== 'string' || data.length >= MAX_EXPORT_CHARS)
        return undefined;
      return { type: 'export', format, data };
    }
    default:
      return undefined;
  }
}

/** A message from the stepper webview if it has the promised shape, else undefined. */
export function parseStepperOutbound(m: unknown): StepperOutbound | undefined {
  if (!isObject(m)) return undefined;
  switch (m.type) {
    case 'ready':
    case 'undo':
    case 'reset':
      return { type: m.type };
    case 'choose':
      return isInt(m.token) && m.token >= 0 ? { type: 'choose', token: m.token } : undefined;
    default:
      return undefined;
  }
}
