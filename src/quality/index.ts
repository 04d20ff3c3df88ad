// Labeler quality: who to trust, estimated from overlapping votes and gold answers. A plain
// library (no Next.js, tRPC or Prisma): votes in, per-labeler reliability and flip rates out.

export { betaCdf, betaQuantile } from "./beta.ts";
export { type FitInput, MaceModel, type MaceOptions } from "./mace.ts";
export * from "./types.ts";
