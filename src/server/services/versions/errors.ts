// The loop's services report business-rule failures as AppError, with a message an admin can act on.
import { AppError } from "../../errors.ts";

export function loopError(code: "NOT_FOUND" | "CONFLICT" | "INVALID_REQUEST", message: string): AppError {
  return new AppError(code, { message, userMessage: message });
}
