// Step 3 of a round (execute.ts): the gates' verdict on a trained candidate (runRound evaluated
// each gate; this reads them) and the summary stored with the round for the rounds page.
import { gateFailureMessage } from "../../../dpo/gates.ts";
import { evalSummary } from "../../../dpo/metrics.ts";
import type { RoundResult } from "../../../dpo/round.ts";
import { jsonSafe } from "./finish.ts";
import type { RoundInputs } from "./inputs.ts";

export interface Judgement {
  /** null when every gate passed; else what failed, with its numbers */
  failure: string | null;
  summary: object;
}

export function judgeRound(result: RoundResult, inputs: RoundInputs): Judgement {
  const { root, sampling, referenceLogps } = inputs;
  const failure = result.passed ? null : (gateFailureMessage(result.gates) ?? "a gate failed");
  const summary = jsonSafe({
    ...result.summary,
    heldout: evalSummary(result.heldout),
    heldoutBefore: evalSummary(result.heldoutBefore),
    klRound: result.klRound,
    klRoot: result.klRoot,
    klServed: result.kl?.served ?? null,
    root: { id: root.id, name: root.name },
    served: { maxNewTokens: sampling.maxNewTokens, temperature: sampling.temperature, topP: sampling.topP },
    checkpoints: result.checkpoints,
    selectedStep: result.selectedStep,
    stoppedEarly: result.stoppedEarly,
    config: result.config,
    referenceLogps: { cached: referenceLogps.cached, computed: referenceLogps.computed },
  });
  return { failure, summary };
}
