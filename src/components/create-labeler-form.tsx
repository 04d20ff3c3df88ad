"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonPrimary, card, input, label } from "./ui";

export function CreateLabelerForm() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [created, setCreated] = useState<string | null>(null);
  const create = useMutation(
    trpc.users.createLabeler.mutationOptions({
      onSuccess: async (user) => {
        setCreated(user.username);
        setUsername("");
        setPassword("");
        await queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
      },
    }),
  );
  const error = create.error ? describeError(create.error) : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    setCreated(null);
    create.mutate({ username, password });
  }

  return (
    <section aria-labelledby="create-heading" className={card}>
      <h2 id="create-heading" className="text-lg font-semibold">
        Create a labeler
      </h2>
      <form onSubmit={submit} className="mt-4 grid gap-4 sm:grid-cols-[1fr_1fr_auto] sm:items-start" noValidate>
        <div>
          <label htmlFor="new-username" className={label}>
            Username
          </label>
          <input
            id="new-username"
            autoComplete="off"
            autoCapitalize="none"
            maxLength={32}
            className={`${input} mt-1`}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            aria-invalid={Boolean(error?.fields.username)}
            aria-describedby="new-username-help"
          />
          <p id="new-username-help" className={`mt-1 text-xs ${error?.fields.username ? "text-red-600" : "text-slate-500"}`}>
            {error?.fields.username ?? "3–32 letters, digits, _ . -"}
          </p>
        </div>
        <div>
          <label htmlFor="new-password" className={label}>
            Initial password
          </label>
          <input
            id="new-password"
            type="password"
            autoComplete="new-password"
            maxLength={200}
            className={`${input} mt-1`}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-invalid={Boolean(error?.fields.password)}
            aria-describedby="new-password-help"
          />
          <p id="new-password-help" className={`mt-1 text-xs ${error?.fields.password ? "text-red-600" : "text-slate-500"}`}>
            {error?.fields.password ?? "At least 8 characters; share it with the labeler privately."}
          </p>
        </div>
        <button type="submit" className={`${buttonPrimary} sm:mt-6`} disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create"}
        </button>
      </form>
      {error && Object.keys(error.fields).length === 0 && (
        <p role="alert" className="mt-3 rounded-md bg-red-50 px-3 py-2 text-sm text-red-700">
          {error.message}
        </p>
      )}
      {created && (
        <p role="status" className="mt-3 rounded-md bg-green-50 px-3 py-2 text-sm text-green-800">
          Created labeler {created}.
        </p>
      )}
    </section>
  );
}
