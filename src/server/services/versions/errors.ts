// Domain errors of the versions / rounds services. Routers map `code` onto tRPC codes; the
// message is written for an admin reading it in the UI.
export type LoopErrorCode = "NOT_FOUND" | "CONFLICT" | "BAD_REQUEST";

export class LoopError extends Error {
  constructor(
    readonly code: LoopErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "LoopError";
  }
}
