// The Llama family's config, read from a Hugging Face config.json. One code path serves
// llama (SmolLM2, TinyLlama, Llama 3.x), mistral, qwen2 (q/k/v biases) and qwen3 (per-head
// q/k RMSNorm); everything the weights do not say comes from here. Anything the code does not
// implement is refused by name before a single weight is read.

export type LlamaModelType = "llama" | "mistral" | "qwen2" | "qwen3";
export const LLAMA_MODEL_TYPES: readonly LlamaModelType[] = ["llama", "mistral", "qwen2", "qwen3"];

/** Llama 3's frequency-dependent RoPE scaling (`rope_scaling.rope_type: "llama3"`). */
export interface Llama3RopeScaling {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface LlamaConfig {
  arch: "llama";
  modelType: LlamaModelType;
  vocabSize: number;
  /** The context this process uses: max_position_embeddings capped by the loader's limit (longer prompts are refused). */
  nPositions: number;
  /** hidden_size */
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nKVHead: number;
  headDim: number;
  intermediateSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: Llama3RopeScaling | null;
  /** q/k/v projections carry biases (qwen2; llama with attention_bias). */
  attentionBias: boolean;
  /** Per-head RMSNorm on queries and keys before RoPE (qwen3). */
  qkNorm: boolean;
  tieWordEmbeddings: boolean;
  /** config.json as read, written back (with torch_dtype float32) when the model is saved. */
  hf: Record<string, unknown>;
}

/** Contexts longer than this are not planned for (KV cache and attention memory); prompts beyond it are refused. */
export const DEFAULT_CONTEXT_LIMIT = 2048;

export class UnsupportedModelError extends Error {}

/**
 * Parses and checks a config.json object. Throws naming the field and its value for anything
 * unsupported; `file` prefixes every message.
 */
export function llamaConfigFromHF(j: Record<string, unknown>, file: string, contextLimit = DEFAULT_CONTEXT_LIMIT): LlamaConfig {
  const refuse = (field: string, value: unknown, why: string): never => {
    throw new UnsupportedModelError(`${file}: ${field} = ${JSON.stringify(value)} is not supported (${why})`);
  };
  const modelType = j.model_type;
  if (!LLAMA_MODEL_TYPES.includes(modelType as LlamaModelType))
    refuse("model_type", modelType, `supported: gpt2, ${LLAMA_MODEL_TYPES.join(", ")}`);
  const mt = modelType as LlamaModelType;
  const int = (k: string, dflt?: number): number => {
    const v = j[k] ?? dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
      throw new Error(`${file}: "${k}" must be a positive integer, got ${JSON.stringify(j[k])}`);
    return v;
  };
  const pos = (k: string, dflt: number): number => {
    const v = j[k] ?? dflt;
    if (typeof v !== "number" || !(v > 0)) throw new Error(`${file}: "${k}" must be a positive number, got ${JSON.stringify(j[k])}`);
    return v;
  };
  const act = j.hidden_act ?? "silu";
  if (act !== "silu") refuse("hidden_act", act, "only silu (SwiGLU)");
  if (j.mlp_bias === true) refuse("mlp_bias", true, "MLP projections without biases only");
  const prf = j.partial_rotary_factor;
  if (prf !== undefined && prf !== null && prf !== 1) refuse("partial_rotary_factor", prf, "full rotary embeddings only");
  if (j.pretraining_tp !== undefined && j.pretraining_tp !== null && j.pretraining_tp !== 1)
    refuse("pretraining_tp", j.pretraining_tp, "only 1");
  const nEmbd = int("hidden_size");
  const nHead = int("num_attention_heads");
  const nKVHead = int("num_key_value_heads", nHead);
  if (nHead % nKVHead !== 0)
    throw new Error(`${file}: num_attention_heads (${nHead}) must be a multiple of num_key_value_heads (${nKVHead})`);
  const explicitHeadDim = j.head_dim;
  const headDim = explicitHeadDim === undefined || explicitHeadDim === null ? nEmbd / nHead : int("head_dim");
  if (!Number.isInteger(headDim) || headDim % 2 !== 0)
    throw new Error(`${file}: head_dim ${headDim} must be an even integer (hidden_size / num_attention_heads when not given)`);
  const maxPos = int("max_position_embeddings", 2048);
  const nPositions = Math.min(maxPos, contextLimit);

  const rs = j.rope_scaling as Record<string, unknown> | null | undefined;
  let ropeScaling: Llama3RopeScaling | null = null;
  if (rs !== undefined && rs !== null) {
    const type = rs.rope_type ?? rs.type;
    if (type === "llama3") {
      const n = (k: string) => {
        const v = rs[k];
        if (typeof v !== "number" || !(v > 0))
          throw new Error(`${file}: rope_scaling.${k} must be a positive number, got ${JSON.stringify(v)}`);
        return v;
      };
      ropeScaling = {
        factor: n("factor"),
        lowFreqFactor: n("low_freq_factor"),
        highFreqFactor: n("high_freq_factor"),
        originalMaxPositionEmbeddings: n("original_max_position_embeddings"),
      };
    } else if (type !== "default") refuse("rope_scaling.rope_type", type, "supported: llama3, default");
  }
  // sliding-window attention only changes results when the window is shorter than the context used
  const useSliding = mt === "mistral" ? j.use_sliding_window !== false : j.use_sliding_window === true;
  const sw = j.sliding_window;
  if (useSliding && typeof sw === "number" && sw < nPositions)
    refuse("sliding_window", sw, `windows shorter than the context used (${nPositions}) are not implemented`);

  const attentionBias = mt === "qwen2" ? true : j.attention_bias === true;
  return {
    arch: "llama",
    modelType: mt,
    vocabSize: int("vocab_size"),
    nPositions,
    nEmbd,
    nLayer: int("num_hidden_layers"),
    nHead,
    nKVHead,
    headDim,
    intermediateSize: int("intermediate_size"),
    rmsNormEps: pos("rms_norm_eps", 1e-6),
    ropeTheta: pos("rope_theta", 10000),
    ropeScaling,
    attentionBias,
    qkNorm: mt === "qwen3",
    // every family here defaults to an untied head in transformers
    tieWordEmbeddings: j.tie_word_embeddings === true,
    hf: j,
  };
}

/** inv_freq for rotate-half RoPE: θ^(−2j/d), j < d/2, with Llama 3 scaling when configured. */
export function ropeInvFreq(c: Pick<LlamaConfig, "headDim" | "ropeTheta" | "ropeScaling">): Float64Array {
  const half = c.headDim / 2;
  const inv = new Float64Array(half);
  for (let j = 0; j < half; j++) inv[j] = 1 / c.ropeTheta ** ((2 * j) / c.headDim);
  const s = c.ropeScaling;
  if (!s) return inv;
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let j = 0; j < half; j++) {
    const wavelen = (2 * Math.PI) / inv[j];
    if (wavelen < highWavelen) continue;
    if (wavelen > lowWavelen) {
      inv[j] /= s.factor;
      continue;
    }
    const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    inv[j] = (1 - smooth) * (inv[j] / s.factor) + smooth * inv[j];
  }
  return inv;
}

/** cos and sin tables (rows, headDim) for the given positions, each half repeated (rotate-half layout). */
export function ropeTables(
  c: Pick<LlamaConfig, "headDim" | "ropeTheta" | "ropeScaling">,
  positions: ArrayLike<number>,
): { cos: Float32Array; sin: Float32Array } {
  const inv = ropeInvFreq(c);
  const d = c.headDim,
    half = d / 2,
    n = positions.length;
  const cos = new Float32Array(n * d),
    sin = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < half; j++) {
      const a = positions[r] * inv[j];
      const cs = Math.cos(a),
        sn = Math.sin(a);
      cos[r * d + j] = cos[r * d + j + half] = cs;
      sin[r * d + j] = sin[r * d + j + half] = sn;
    }
  }
  return { cos, sin };
}
