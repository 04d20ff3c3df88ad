// Chat messages → the prompt text the policy is conditioned on: the one place the /v1 API
// turns a conversation into a prompt.
//
// The house model is a byte-level continuation model with no chat template, and the arena
// serves it plain-text prompts. So a conversation that is one user message is sent as exactly
// that text (the API then samples what the arena samples for the same prompt, and API
// preferences are pairs of the same kind as arena votes). Anything longer is rendered as a
// plain transcript, a blank line between turns, each turn as "<Role>: <text>" (System, User,
// Assistant; developer counts as System), ending with "Assistant:" for the model to continue.
//
// Models with a chat template (Llama-family checkpoints whose tokenizer_config.json has one):
// the request's messages go to the sampler thread with this plain rendering, and the thread,
// which holds the model's tokenizer, renders the whole conversation with the template instead
// (lm `encodeChat`); the stored ApiCompletion keeps the rendered text. `promptForMessages` still
// takes a `ChatPromptRenderer` for a caller that holds a tokenizer (preference imports, which do,
// call `encodeChat` directly).
export interface ChatMessage {
  role: "system" | "developer" | "user" | "assistant";
  content: string;
}

/** Renders a whole conversation with a model's chat template, ending with the assistant's turn. */
export type ChatPromptRenderer = (messages: ChatMessage[]) => string;

const ROLE_LABEL: Record<ChatMessage["role"], string> = { system: "System", developer: "System", user: "User", assistant: "Assistant" };

export function plainTextPrompt(messages: ChatMessage[]): string {
  if (messages.length === 1 && messages[0]!.role === "user") return messages[0]!.content;
  return [...messages.map((m) => `${ROLE_LABEL[m.role]}: ${m.content}`), "Assistant:"].join("\n\n");
}

export function promptForMessages(messages: ChatMessage[], renderer: ChatPromptRenderer | null = null): string {
  return renderer ? renderer(messages) : plainTextPrompt(messages);
}
