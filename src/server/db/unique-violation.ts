// Recognises "a unique index refused this row": Prisma's P2002 from a model call, or
// PostgreSQL's 23505 from a raw query or through a driver adapter (where it may sit one or more
// `cause`s deep). Several services make a row and let the unique index settle a race (two
// admins creating one username, two replicas storing one battle's completions, two imports
// taking one version name, two triggers queuing a round); they all ask this one question.

export function isUniqueViolation(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "P2002" || code === "23505") return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === "string" && /unique constraint/i.test(message)) return true;
  }
  return false;
}
