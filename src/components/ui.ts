// Shared Tailwind class sets, so buttons and inputs look the same on every page.
export const buttonPrimary =
  "inline-flex items-center justify-center rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:cursor-not-allowed disabled:opacity-50";
export const buttonSecondary =
  "inline-flex items-center justify-center rounded-md bg-white px-3 py-2 text-sm font-medium text-slate-800 shadow-sm ring-1 ring-slate-300 ring-inset hover:bg-slate-50 disabled:cursor-not-allowed disabled:opacity-50";
export const buttonDanger =
  "inline-flex items-center justify-center rounded-md bg-white px-3 py-2 text-sm font-medium text-red-700 shadow-sm ring-1 ring-red-300 ring-inset hover:bg-red-50 disabled:cursor-not-allowed disabled:opacity-50";
/** An input's look without a width; give it one (`w-48`). Two width classes on one element
 * (`w-full w-48`) resolve by stylesheet order, not by the order written, so they are never mixed. */
export const inputBase =
  "rounded-md border-0 bg-white px-3 py-2 text-slate-900 shadow-sm ring-1 ring-slate-300 ring-inset placeholder:text-slate-400 focus:ring-2 focus:ring-indigo-600 focus:ring-inset aria-[invalid=true]:ring-red-500";
/** A full-width input (forms' usual field). */
export const input = `block w-full ${inputBase}`;
export const label = "block text-sm font-medium text-slate-700";
export const card = "rounded-lg bg-white p-4 shadow-sm ring-1 ring-slate-200 sm:p-6";
