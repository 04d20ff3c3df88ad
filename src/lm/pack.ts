// Packing scored items into padded rows for one forward pass. Items that share a prompt
// (DPO's chosen and rejected, n samples of one prompt) share one row: the prompt appears once
// and each completion follows it with its own positions, attending to the prompt and to
// itself only (a tree-shaped mask). In the DPO shape this removes a quarter of the rows.

export interface ScoreItem {
  promptIds: number[];
  completionIds: number[];
}

export interface Packed {
  /** Packed sequences (rows of the batch) and their padded length. */
  B: number;
  T: number;
  nItems: number;
  ids: Int32Array; // (B*T) input tokens
  pos: Int32Array; // (B*T) position ids
  /** (B*T*T) additive attention mask, or null when every row is plainly causal. */
  bias: Float32Array | null;
  sel: Int32Array; // (M) rows of (B*T) whose next-token prediction is scored (may repeat)
  targets: Int32Array; // (M)
  itemOf: Int32Array; // (M) which item each scored row belongs to
  lengths: Int32Array; // (nItems) completion lengths
}

const MASKED = -1e9;
/** Prompts shorter than this are not worth a longer, tree-masked row. */
const MIN_SHARED_PROMPT = 8;

export function pack(model: { config: { vocabSize: number; nPositions: number } }, items: ScoreItem[], share = true): Packed {
  const { vocabSize, nPositions } = model.config;
  if (items.length === 0) throw new Error("no items to score");
  items.forEach((it, i) => {
    if (it.promptIds.length < 1) throw new Error(`item ${i}: promptIds is empty (it must start with BOS; use encodePrompt)`);
    for (const id of [...it.promptIds, ...it.completionIds]) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
        throw new Error(`item ${i}: token id ${id} is outside the vocabulary [0, ${vocabSize})`);
    }
    const inputLen = it.promptIds.length + it.completionIds.length - 1;
    if (inputLen > nPositions)
      throw new Error(`item ${i}: prompt+completion is ${inputLen + 1} tokens; the model's context is ${nPositions} (+1 predicted)`);
  });
  // group items by identical prompt, in order of first appearance. Sharing pays when the
  // prompt is long; a group's row never grows beyond the model context (attention is
  // quadratic in row length), so large groups are split.
  const groups: number[][] = [];
  const open = new Map<string, number[]>();
  items.forEach((it, i) => {
    const p = it.promptIds.length;
    const key = share && p >= MIN_SHARED_PROMPT ? it.promptIds.join(",") : `#${i}`;
    const g = open.get(key);
    const extra = Math.max(0, it.completionIds.length - 1);
    if (g && rowLen(g) + extra <= nPositions) {
      g.push(i);
      return;
    }
    const fresh = [i];
    open.set(key, fresh);
    groups.push(fresh);
  });
  /** A row's input: the prompt, then every member's completion minus its last token. */
  function rowLen(g: number[]): number {
    const p = items[g[0]].promptIds.length;
    return Math.max(1, p + g.reduce((a, i) => a + Math.max(0, items[i].completionIds.length - 1), 0));
  }
  const B = groups.length;
  const T = Math.max(1, ...groups.map(rowLen));
  const shared = groups.some((g) => g.length > 1);
  const M = items.reduce((a, it) => a + it.completionIds.length, 0);
  const ids = new Int32Array(B * T);
  const pos = new Int32Array(B * T);
  const bias = shared ? new Float32Array(B * T * T) : null;
  const sel = new Int32Array(M);
  const targets = new Int32Array(M);
  const itemOf = new Int32Array(M);
  const lengths = Int32Array.from(items, (it) => it.completionIds.length);
  let m = 0;
  groups.forEach((g, b) => {
    const prompt = items[g[0]].promptIds;
    const P0 = prompt.length;
    const rowBase = b * T;
    for (let t = 0; t < Math.min(P0, T); t++) {
      ids[rowBase + t] = prompt[t];
      pos[rowBase + t] = t;
    }
    // member blocks: [start, start+len) hold completion tokens 0..len-1 at positions P0..
    let start = P0;
    const blocks: [number, number][] = [];
    for (const i of g) {
      const c = items[i].completionIds;
      const len = Math.max(0, c.length - 1);
      for (let j = 0; j < len; j++) {
        ids[rowBase + start + j] = c[j];
        pos[rowBase + start + j] = P0 + j;
      }
      for (let j = 0; j < c.length; j++) {
        sel[m] = rowBase + (j === 0 ? P0 - 1 : start + j - 1);
        targets[m] = c[j];
        itemOf[m] = i;
        m++;
      }
      blocks.push([start, start + len]);
      start += len;
    }
    for (let t = start; t < T; t++) pos[rowBase + t] = Math.min(t, nPositions - 1); // padding
    if (bias) {
      const o = b * T * T;
      // default: causal (prompt rows and padding rows)
      for (let r = 0; r < T; r++) bias.fill(MASKED, o + r * T + r + 1, o + (r + 1) * T);
      // completion rows see the prompt and their own block only
      for (const [s, e] of blocks) for (let r = s; r < e; r++) bias.fill(MASKED, o + r * T + P0, o + r * T + s);
    }
  });
  return { B, T, nItems: items.length, ids, pos, bias, sel, targets, itemOf, lengths };
}
