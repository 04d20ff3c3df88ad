import Link from "next/link";

const SECTIONS = [
  { href: "/admin", label: "Accounts" },
  { href: "/admin/prompts", label: "Prompts" },
  { href: "/admin/labelers", label: "Labelers" },
  { href: "/admin/settings", label: "Sampling" },
  { href: "/admin/rounds", label: "Training rounds" },
  { href: "/admin/models", label: "Models" },
  { href: "/admin/quality", label: "Quality" },
  { href: "/admin/preferences", label: "Preference data" },
  { href: "/admin/api-keys", label: "API keys" },
  { href: "/admin/contestants", label: "Contestants" },
];

/** Tabs across the admin console; `current` is the href of the page showing it. */
export function AdminNav({ current }: { current: string }) {
  return (
    <nav aria-label="Admin sections" className="mt-3 flex flex-wrap gap-1 border-b border-slate-200 pb-2">
      {SECTIONS.map((s) => (
        <Link
          key={s.href}
          href={s.href}
          aria-current={s.href === current ? "page" : undefined}
          className={`rounded-md px-3 py-1.5 text-sm font-medium ${s.href === current ? "bg-indigo-50 text-indigo-700" : "text-slate-700 hover:bg-slate-100"}`}
        >
          {s.label}
        </Link>
      ))}
    </nav>
  );
}
