/**
 * Hugging Face GPT-2 on disk: tensor names, layouts and config.json.
 *
 * Names are exactly those `GPT2LMHeadModel.save_pretrained` writes: `transformer.wte.weight`,
 * `transformer.h.0.attn.c_attn.weight`, …, `transformer.ln_f.bias`, and no `lm_head.weight` when the head is tied
 * (it is wte). GPT Lab's own names are the same without `transformer.`. Linear weights keep GPT-2's Conv1D
 * [in, out] orientation in both; only an untied head changes layout, GPT Lab's `lm_head.weight` [n_embd, vocab]
 * (y = x·W like the other weights) against Hugging Face's nn.Linear [vocab, n_embd].
 */
import type { GPTConfig } from '../model/config';
import { badImport } from './errors';

export const HF_PREFIX = 'transformer.';
export const EXPORT_FORMAT = 'gpt-lab-export';
export const EXPORT_VERSION = 1;
/**
 * config.json's `model_type` for a model GPT2LMHeadModel cannot compute (any recipe option on: the modern
 * architecture). A type of its own, so that transformers' Auto classes refuse it ("does not recognize this
 * architecture") rather than load the matrices as GPT-2 and compute something else; GPT-2's recipe keeps 'gpt2'.
 */
export const MODERN_MODEL_TYPE = 'gpt_lab_modern';

/** The architecture options beyond GPT-2's (model/config.ts), read so that a config without them reads as GPT-2. */
export interface Recipe {
  positionEncoding: string;
  qkNorm: boolean;
  mlp: string;
  untiedHead: boolean;
  bias: boolean;
  logitSoftCap: number;
}

export function recipeOf(c: GPTConfig): Recipe {
  const o = c as unknown as Record<string, unknown>;
  return {
    positionEncoding: String(c.positionEncoding),
    qkNorm: o.qkNorm === true,
    mlp: typeof o.mlp === 'string' ? o.mlp : 'gelu',
    untiedHead: o.untiedHead === true,
    bias: o.bias !== false,
    logitSoftCap: typeof o.logitSoftCap === 'number' ? o.logitSoftCap : 0,
  };
}

/** What Hugging Face's GPT2LMHeadModel cannot represent in this config (empty: it loads the export as is). */
export function hfIncompatibilities(c: GPTConfig): string[] {
  const r = recipeOf(c);
  const out: string[] = [];
  if (r.positionEncoding === 'rotary') out.push('rotary positions');
  if (r.qkNorm) out.push('QK-norm');
  if (r.mlp !== 'gelu') out.push(`a ${r.mlp} MLP`);
  if (!r.bias) out.push('no biases');
  if (r.logitSoftCap > 0) out.push('a logit soft-cap');
  return out;
}

/** GPT Lab's parameter name → the export's; undefined for GPT Lab's `lm_head.weight` (transposed, same name). */
export function hfName(name: string): string {
  return name === 'lm_head.weight' ? name : HF_PREFIX + name;
}

/** Buffers older GPT-2 checkpoints carry (the causal mask): not weights, skipped on import. */
export function isHfBuffer(name: string): boolean {
  return /^(?:transformer\.)?h\.\d+\.attn\.(?:bias|masked_bias)$/.test(name);
}

/** [rows, cols] → [cols, rows]. */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/**
 * Hugging Face GPT-2's config.json for a GPT Lab model, with GPT Lab's own description under `gpt_lab`. GPT-2's
 * recipe: `model_type` gpt2 and GPT2LMHeadModel; the modern architecture: MODERN_MODEL_TYPE and no
 * `architectures` (GPT-2's field names stay, for readers of the sizes; `gpt_lab.model` is what computes it).
 */
export function hfConfig(c: GPTConfig, gptLab: Record<string, unknown>): Record<string, unknown> {
  const r = recipeOf(c);
  const incompatible = hfIncompatibilities(c);
  return {
    ...(incompatible.length === 0 && { architectures: ['GPT2LMHeadModel'] }),
    model_type: incompatible.length === 0 ? 'gpt2' : MODERN_MODEL_TYPE,
    vocab_size: c.vocabSize,
    n_positions: c.contextLength,
    n_ctx: c.contextLength,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: null,
    // GPT-2's tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as in ops.ts.
    activation_function: r.mlp === 'gelu' ? 'gelu_new' : r.mlp,
    layer_norm_epsilon: 1e-5,
    initializer_range: 0.02,
    resid_pdrop: 0,
    embd_pdrop: 0,
    attn_pdrop: 0,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    tie_word_embeddings: !r.untiedHead,
    bos_token_id: 256,
    eos_token_id: 256,
    use_cache: true,
    torch_dtype: 'float32',
    gpt_lab: { format: EXPORT_FORMAT, version: EXPORT_VERSION, hf_compatible: incompatible.length === 0, ...gptLab },
  };
}

/** GPT-2's architecture from a Hugging Face config.json (no GPT Lab description), refusing what GPT Lab lacks. */
export function configFromHf(hf: Record<string, unknown>): { config: GPTConfig; tied: boolean; vocabSize: number } {
  const field = (names: string[], fallback?: unknown): unknown => {
    for (const n of names) if (hf[n] !== undefined && hf[n] !== null) return hf[n];
    return fallback;
  };
  const int = (names: string[]): number => {
    const v = field(names);
    if (!Number.isSafeInteger(v) || (v as number) < 1) {
      throw badImport(`config.json: ${names[0]} must be a positive integer (got ${JSON.stringify(v)}).`);
    }
    return v as number;
  };
  const type = field(['model_type']);
  if (type === MODERN_MODEL_TYPE) {
    throw badImport(
      `config.json: model_type '${MODERN_MODEL_TYPE}' is GPT Lab's modern architecture, but the \`gpt_lab\` section that describes it is missing: import the folder \`gpt-lab export\` or scale/train_ddp.py wrote, with its config.json as written.`,
    );
  }
  if (type !== undefined && type !== 'gpt2') {
    throw badImport(`config.json: model_type '${String(type)}' is not GPT-2's architecture (model_type 'gpt2').`);
  }
  const nEmbd = int(['n_embd', 'hidden_size']);
  const nLayer = int(['n_layer', 'num_hidden_layers']);
  const nHead = int(['n_head', 'num_attention_heads']);
  const contextLength = int(['n_positions', 'n_ctx', 'max_position_embeddings']);
  const vocabSize = int(['vocab_size']);
  const act = field(['activation_function'], 'gelu_new');
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
    throw badImport(
      `config.json: activation_function '${String(act)}' differs from GPT Lab's tanh GELU ('gelu_new'); the logits would not match.`,
    );
  }
  const eps = field(['layer_norm_epsilon'], 1e-5);
  if (typeof eps !== 'number' || Math.abs(eps - 1e-5) > 1e-12) {
    throw badImport(`config.json: layer_norm_epsilon ${JSON.stringify(eps)} differs from GPT Lab's 1e-5.`);
  }
  const inner = field(['n_inner']);
  if (inner !== undefined && inner !== 4 * nEmbd) {
    throw badImport(`config.json: n_inner ${JSON.stringify(inner)} differs from GPT Lab's 4 × n_embd (${4 * nEmbd}).`);
  }
  for (const [k, ok] of [
    ['scale_attn_weights', true],
    ['scale_attn_by_inverse_layer_idx', false],
    ['reorder_and_upcast_attn', false],
  ] as const) {
    if (hf[k] !== undefined && hf[k] !== ok) throw badImport(`config.json: ${k} ${String(hf[k])} is not supported.`);
  }
  if (nEmbd % nHead !== 0) throw badImport(`config.json: n_embd ${nEmbd} is not divisible by n_head ${nHead}.`);
  const tied = hf.tie_word_embeddings !== false;
  return {
    config: { vocabSize, contextLength, nEmbd, nLayer, nHead, positionEncoding: 'learned' },
    tied,
    vocabSize,
  };
}
