// Preference losses as pure functions of per-sequence summed log-probs.
//
// The model never sees these formulas: a training step asks the language model for the
// summed completion log-probs, evaluates the loss here, and hands back the analytic gradient
// dLoss/dlogp, which the model backpropagates. Keeping the math on plain numbers makes every
// loss checkable against finite differences and a tabular policy without touching tfjs.
//
// Definitions follow TRL's DPOTrainer `loss_type`s (names and formulas), with
//   Δ = (log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l)),  z = β·Δ:
//   sigmoid  −(1−ε)·log σ(z) − ε·log σ(−z)            (DPO; ε > 0 is conservative DPO)
//   robust   (−(1−ε)·log σ(z) + ε·log σ(−z)) / (1−2ε)  (Chowdhury et al. 2024, unbiased under
//                                                      label flips with rate ε; needs ε < ½)
//   hinge    max(0, 1 − z)                              (SLiC)
//   ipo      (Δ̄ − 1/(2β))², Δ̄ built from log-probs divided by completion length, as TRL does
//            for IPO (it averages log-probs over tokens before forming the ratios).
// Optional SFT term (TRL's `rpo_alpha`): + w·(−log π(y_w) / |y_w|), the chosen completion's
// per-token negative log-likelihood of THIS pair. TRL averages tokens over the whole batch
// instead; per pair keeps every loss a per-pair quantity, and with equal lengths they agree.
// Optional per-pair weights w_i (labeler quality: the probability that the vote is right) scale
// each pair's whole loss, SFT term included, and so its gradient: w_i·L_i.

export type LossType = "sigmoid" | "ipo" | "robust" | "hinge";
export const LOSS_TYPES: readonly LossType[] = ["sigmoid", "ipo", "robust", "hinge"];

type Nums = ArrayLike<number>;

export interface PreferenceLossInput {
  policyChosen: Nums;
  policyRejected: Nums;
  refChosen: Nums;
  refRejected: Nums;
  /** KL strength β > 0; there is deliberately no default. */
  beta: number;
  lossType: LossType;
  /** ε in [0, ½) for sigmoid/robust: the assumed probability that a label is flipped. */
  labelSmoothing?: number;
  /** Completion token counts; required for `ipo` and when `sftWeight` > 0. */
  chosenLengths?: Nums;
  rejectedLengths?: Nums;
  /** Weight of the per-token NLL of the chosen completion added to each pair's loss. */
  sftWeight?: number;
  /** Per-pair weights ≥ 0 multiplying each pair's loss (and gradient); absent means all 1. */
  weights?: Nums;
}

export interface PreferenceLossOutput {
  /** Per-pair loss, including the SFT term when sftWeight > 0, times the pair's weight. */
  losses: Float64Array;
  /** Detached implicit rewards β·(log π − log π_ref) on SUMMED log-probs, for every loss type. */
  chosenRewards: Float64Array;
  rejectedRewards: Float64Array;
  /** ∂ losses[i] / ∂ input[i] (each pair's own loss, not the batch mean). */
  gradPolicyChosen: Float64Array;
  gradPolicyRejected: Float64Array;
  gradRefChosen: Float64Array;
  gradRefRejected: Float64Array;
}

/** log σ(x) without overflow: −softplus(−x). */
export function logSigmoid(x: number): number {
  return -(Math.max(-x, 0) + Math.log1p(Math.exp(-Math.abs(x))));
}

export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function checkLengths(name: string, lengths: Nums | undefined, n: number, why: string): Nums {
  if (!lengths) throw new Error(`preferenceLoss: ${name} is required ${why}`);
  if (lengths.length !== n) {
    throw new Error(`preferenceLoss: ${name} has ${lengths.length} entries but there are ${n} pairs`);
  }
  for (let i = 0; i < n; i++) {
    if (!(lengths[i] > 0)) {
      throw new Error(`preferenceLoss: ${name}[${i}] = ${lengths[i]}; completion lengths must be positive`);
    }
  }
  return lengths;
}

export function preferenceLoss(input: PreferenceLossInput): PreferenceLossOutput {
  const { policyChosen, policyRejected, refChosen, refRejected, beta, lossType } = input;
  const eps = input.labelSmoothing ?? 0;
  const sftWeight = input.sftWeight ?? 0;
  const n = policyChosen.length;

  if (typeof beta !== "number" || !Number.isFinite(beta) || beta <= 0) {
    throw new Error(`preferenceLoss: beta must be a finite number > 0 (got ${String(beta)}); there is no default`);
  }
  if (!LOSS_TYPES.includes(lossType)) {
    throw new Error(`preferenceLoss: unknown lossType "${String(lossType)}" (expected one of ${LOSS_TYPES.join(", ")})`);
  }
  for (const [name, arr] of [
    ["policyRejected", policyRejected],
    ["refChosen", refChosen],
    ["refRejected", refRejected],
  ] as const) {
    if (arr.length !== n) throw new Error(`preferenceLoss: ${name} has ${arr.length} entries, policyChosen has ${n}`);
  }
  if (!(eps >= 0 && eps < 0.5)) {
    throw new Error(`preferenceLoss: labelSmoothing must be in [0, 0.5) (got ${eps})`);
  }
  if (eps > 0 && (lossType === "ipo" || lossType === "hinge")) {
    throw new Error(`preferenceLoss: labelSmoothing applies to the sigmoid and robust losses, not "${lossType}"`);
  }
  if (!(sftWeight >= 0 && Number.isFinite(sftWeight))) {
    throw new Error(`preferenceLoss: sftWeight must be a finite number >= 0 (got ${sftWeight})`);
  }
  const weights = input.weights;
  if (weights) {
    if (weights.length !== n) throw new Error(`preferenceLoss: weights has ${weights.length} entries but there are ${n} pairs`);
    for (let i = 0; i < n; i++) {
      if (!(Number.isFinite(weights[i]) && weights[i] >= 0))
        throw new Error(`preferenceLoss: weights[${i}] = ${weights[i]}; weights must be finite and >= 0`);
    }
  }
  const needLengths = lossType === "ipo" ? "for the ipo loss" : sftWeight > 0 ? "when sftWeight > 0" : null;
  const lw = needLengths ? checkLengths("chosenLengths", input.chosenLengths, n, needLengths) : null;
  const ll = lossType === "ipo" ? checkLengths("rejectedLengths", input.rejectedLengths, n, "for the ipo loss") : null;

  const out: PreferenceLossOutput = {
    losses: new Float64Array(n),
    chosenRewards: new Float64Array(n),
    rejectedRewards: new Float64Array(n),
    gradPolicyChosen: new Float64Array(n),
    gradPolicyRejected: new Float64Array(n),
    gradRefChosen: new Float64Array(n),
    gradRefRejected: new Float64Array(n),
  };

  for (let i = 0; i < n; i++) {
    const chosenRatio = policyChosen[i] - refChosen[i];
    const rejectedRatio = policyRejected[i] - refRejected[i];
    out.chosenRewards[i] = beta * chosenRatio;
    out.rejectedRewards[i] = beta * rejectedRatio;

    let loss: number;
    // ∂loss/∂(chosen log-ratio) and ∂loss/∂(rejected log-ratio); the policy and reference
    // log-probs enter each ratio with opposite signs.
    let dChosen: number;
    let dRejected: number;
    if (lossType === "ipo") {
      const wLen = lw![i];
      const lLen = ll![i];
      const h = chosenRatio / wLen - rejectedRatio / lLen - 1 / (2 * beta);
      loss = h * h;
      dChosen = (2 * h) / wLen;
      dRejected = (-2 * h) / lLen;
    } else {
      const z = beta * (chosenRatio - rejectedRatio);
      let dz: number;
      if (lossType === "sigmoid") {
        loss = eps === 0 ? -logSigmoid(z) : -(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z);
        dz = -(1 - eps) * sigmoid(-z) + eps * sigmoid(z);
      } else if (lossType === "robust") {
        loss = (-(1 - eps) * logSigmoid(z) + eps * logSigmoid(-z)) / (1 - 2 * eps);
        dz = (-(1 - eps) * sigmoid(-z) - eps * sigmoid(z)) / (1 - 2 * eps);
      } else {
        // hinge: at z = 1 exactly we take the zero subgradient.
        loss = Math.max(0, 1 - z);
        dz = z < 1 ? -1 : 0;
      }
      dChosen = beta * dz;
      dRejected = -beta * dz;
    }

    let dPolicyChosen = dChosen;
    if (sftWeight > 0) {
      loss += (-sftWeight * policyChosen[i]) / lw![i];
      dPolicyChosen += -sftWeight / lw![i];
    }
    const w = weights ? weights[i] : 1;
    out.losses[i] = w * loss;
    out.gradPolicyChosen[i] = w * dPolicyChosen;
    out.gradPolicyRejected[i] = w * dRejected;
    out.gradRefChosen[i] = -w * dChosen;
    out.gradRefRejected[i] = -w * dRejected;
  }
  return out;
}
