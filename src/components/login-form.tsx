"use client";
import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { type FormEvent, useState } from "react";
import { describeError, useTRPC } from "@/trpc/react";
import { buttonPrimary, input, label } from "./ui";

/** `next`: a local path the visitor wanted (checked by the login page); else the role's home. */
export function LoginForm({ next = null }: { next?: string | null }) {
  const trpc = useTRPC();
  const router = useRouter();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const signIn = useMutation(
    trpc.auth.signIn.mutationOptions({
      onSuccess: ({ user }) => {
        router.replace(next ?? (user.role === "ADMIN" ? "/admin" : "/arena"));
        router.refresh();
      },
    }),
  );
  const error = signIn.error ? describeError(signIn.error) : null;

  function submit(event: FormEvent) {
    event.preventDefault();
    signIn.mutate({ username, password });
  }

  return (
    <form onSubmit={submit} className="space-y-4" noValidate>
      <div>
        <label htmlFor="username" className={label}>
          Username
        </label>
        <input
          id="username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          required
          maxLength={64}
          className={`${input} mt-1`}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          aria-invalid={Boolean(error?.fields.username)}
        />
        {error?.fields.username && <p className="mt-1 text-sm text-red-600">{error.fields.username}</p>}
      </div>
      <div>
        <label htmlFor="password" className={label}>
          Password
        </label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          maxLength={200}
          className={`${input} mt-1`}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-invalid={Boolean(error?.fields.password)}
        />
        {error?.fields.password && <p className="mt-1 text-sm text-red-600">{error.fields.password}</p>}
      </div>
      {error && (
        <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-700">
          {error.message}
        </p>
      )}
      <button type="submit" className={`${buttonPrimary} w-full`} disabled={signIn.isPending || signIn.isSuccess}>
        {signIn.isPending || signIn.isSuccess ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
