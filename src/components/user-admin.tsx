"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { CreateLabelerForm } from "./create-labeler-form";
import { buttonDanger, buttonPrimary, buttonSecondary, card, input } from "./ui";

export function UserAdmin({ currentUserId }: { currentUserId: string }) {
  const trpc = useTRPC();
  const users = useQuery(trpc.users.list.queryOptions());

  return (
    <div className="mt-6 space-y-6">
      <CreateLabelerForm />
      <section aria-labelledby="users-heading" className={card}>
        <h2 id="users-heading" className="text-lg font-semibold">
          Accounts
        </h2>
        {users.isPending && <p className="mt-4 text-sm text-slate-500">Loading…</p>}
        {users.error && (
          <p role="alert" className="mt-4 text-sm text-red-700">
            {describeError(users.error).message}
          </p>
        )}
        {users.data && (
          <ul className="mt-4 divide-y divide-slate-200" data-testid="user-list">
            {users.data.map((user) => (
              <UserRow key={user.id} user={user} isSelf={user.id === currentUserId} />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

interface RowUser {
  id: string;
  username: string;
  role: "ADMIN" | "LABELER";
  disabled: boolean;
  voteCount: number;
}

function UserRow({ user, isSelf }: { user: RowUser; isSelf: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [resetting, setResetting] = useState(false);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const toggle = useMutation(trpc.users.setDisabled.mutationOptions({ onSuccess: refresh }));

  return (
    <li className="py-3" data-testid={`user-row-${user.username}`}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div className="min-w-0">
          <p className="truncate font-medium">
            {user.username}
            {isSelf && <span className="ml-2 text-xs text-slate-500">(you)</span>}
          </p>
          <p className="text-xs text-slate-500">
            {user.role.toLowerCase()} · {user.voteCount} votes ·{" "}
            <span className={user.disabled ? "font-semibold text-red-700" : "text-green-700"}>{user.disabled ? "disabled" : "active"}</span>
          </p>
        </div>
        {user.role === "LABELER" && (
          <div className="flex gap-2">
            <button type="button" className={buttonSecondary} onClick={() => setResetting((v) => !v)} aria-expanded={resetting}>
              Reset password
            </button>
            <button
              type="button"
              className={user.disabled ? buttonSecondary : buttonDanger}
              disabled={toggle.isPending}
              onClick={() => toggle.mutate({ userId: user.id, disabled: !user.disabled })}
            >
              {user.disabled ? "Enable" : "Disable"}
            </button>
          </div>
        )}
      </div>
      {toggle.error && (
        <p role="alert" className="mt-2 text-sm text-red-700">
          {describeError(toggle.error).message}
        </p>
      )}
      {resetting && <ResetPasswordForm userId={user.id} username={user.username} onDone={() => setResetting(false)} />}
    </li>
  );
}

function ResetPasswordForm({ userId, username, onDone }: { userId: string; username: string; onDone: () => void }) {
  const trpc = useTRPC();
  const [password, setPassword] = useState("");
  const reset = useMutation(trpc.users.resetPassword.mutationOptions());
  const error = reset.error ? describeError(reset.error) : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    reset.mutate({ userId, password }, { onSuccess: () => setPassword("") });
  }

  return (
    <form onSubmit={submit} className="mt-3 flex flex-wrap items-start gap-2" noValidate>
      <label htmlFor={`reset-${userId}`} className="sr-only">
        New password for {username}
      </label>
      <input
        id={`reset-${userId}`}
        type="password"
        autoComplete="new-password"
        placeholder={`New password for ${username}`}
        maxLength={200}
        className={`${input} max-w-xs`}
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        aria-invalid={Boolean(error?.fields.password)}
      />
      <button type="submit" className={buttonPrimary} disabled={reset.isPending}>
        Save
      </button>
      <button type="button" className={buttonSecondary} onClick={onDone}>
        Close
      </button>
      {error && (
        <p role="alert" className="w-full text-sm text-red-700">
          {error.fields.password ?? error.message}
        </p>
      )}
      {reset.isSuccess && (
        <p role="status" className="w-full text-sm text-green-800">
          Password changed; {username} was signed out everywhere.
        </p>
      )}
    </form>
  );
}
