import { Form, Link, useNavigate, useNavigation } from "@remix-run/react";
import { useEffect, useRef, useState, type ReactNode, type RefObject } from "react";

/**
 * The second step of a destructive admin action: says what will happen, names the exact Redis key
 * (or version) it acts on, and posts it back. The action checks the posted `confirmTarget` against
 * what it is about to touch, so a stale or edited confirmation cannot hit another key.
 *
 * It opens where the user is looking: scrolled into view and focused when it appears, closed by
 * Escape (or Cancel), and focus goes back to the control that opened it (`returnFocusTo`). With
 * `typeToConfirm`, the submit stays disabled until that text is typed (production promotions);
 * the action checks the typed value again.
 */
export function ConfirmAction({
  title,
  target,
  children,
  intent,
  fields = {},
  submitLabel,
  cancelTo,
  danger = false,
  returnFocusTo,
  typeToConfirm,
}: {
  title: string;
  /** The key (or version) named on the page and posted back for the action to check. */
  target: string;
  children?: ReactNode;
  intent: string;
  fields?: Record<string, string>;
  submitLabel: string;
  cancelTo: string;
  danger?: boolean;
  /** A CSS selector of the control that opened the confirmation; it gets focus back on close. */
  returnFocusTo?: string;
  /** Text the user must type before the submit is enabled (posted as `typedConfirmation`). */
  typeToConfirm?: string;
}) {
  const navigation = useNavigation();
  const busy = navigation.state === "submitting";
  const dialog = useRef<HTMLElement>(null);
  const typed = useRef<HTMLInputElement>(null);
  const [typedValue, setTypedValue] = useState("");
  useDialogFocus(dialog, typed, cancelTo, returnFocusTo);

  const typedOk = typeToConfirm === undefined || typedValue === typeToConfirm;
  return (
    <section
      ref={dialog}
      role="dialog"
      aria-modal="false"
      aria-labelledby="confirm-title"
      tabIndex={-1}
      className={`scroll-my-24 rounded-lg border-2 px-5 py-4 outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 ${danger ? "border-red-300 bg-red-50" : "border-indigo-300 bg-indigo-50"}`}
    >
      <h2 id="confirm-title" className="text-base font-semibold text-slate-900">
        {title}
      </h2>
      <p className="mt-2 text-sm text-slate-700">
        Target: <code data-testid="confirm-target" className="break-all rounded bg-white px-1.5 py-0.5 font-mono text-xs text-slate-900 ring-1 ring-slate-300">{target}</code>
      </p>
      {children ? <div className="mt-2 text-sm text-slate-700">{children}</div> : null}
      <Form method="post" className="mt-4 flex flex-wrap items-center gap-3">
        <input type="hidden" name="intent" value={intent} />
        <input type="hidden" name="confirmTarget" value={target} />
        {Object.entries(fields).map(([name, value]) => (
          <input key={name} type="hidden" name={name} value={value} />
        ))}
        {typeToConfirm !== undefined ? <TypedConfirmation text={typeToConfirm} value={typedValue} onChange={setTypedValue} inputRef={typed} /> : null}
        <button
          type="submit"
          disabled={busy || !typedOk}
          className={`rounded-md px-3 py-1.5 text-sm font-semibold text-white shadow-sm disabled:opacity-60 ${
            danger ? "bg-red-700 hover:bg-red-600" : "bg-indigo-600 hover:bg-indigo-500"
          }`}
        >
          {busy ? "Working…" : submitLabel}
        </button>
        <Link to={cancelTo} preventScrollReset className="text-sm font-medium text-slate-700 hover:text-slate-900">
          Cancel
        </Link>
      </Form>
    </section>
  );
}

/**
 * Opens the dialog where the user is: scrolled into view and focused (the typed field when there
 * is one); Escape goes to `cancelTo`; on close, focus returns to `returnFocusTo`.
 */
function useDialogFocus(dialog: RefObject<HTMLElement>, typed: RefObject<HTMLInputElement>, cancelTo: string, returnFocusTo?: string) {
  const navigate = useNavigate();
  useEffect(() => {
    const node = dialog.current;
    if (!node) return;
    node.scrollIntoView({ block: "center" });
    (typed.current ?? node).focus({ preventScroll: true });
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") {
        event.preventDefault();
        navigate(cancelTo, { preventScrollReset: true });
      }
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      // Closed (Escape, Cancel, or done): focus goes back to what opened it, once the page settled.
      if (returnFocusTo) setTimeout(() => document.querySelector<HTMLElement>(returnFocusTo)?.focus());
    };
  }, [dialog, typed, cancelTo, navigate, returnFocusTo]);
}

function TypedConfirmation({ text, value, onChange, inputRef }: { text: string; value: string; onChange: (value: string) => void; inputRef: RefObject<HTMLInputElement> }) {
  return (
    <label className="flex w-full flex-col gap-1 text-sm text-slate-800 sm:w-auto">
      <span>
        Type <code className="rounded bg-white px-1 font-mono text-xs ring-1 ring-slate-300">{text}</code> to confirm
      </span>
      <input
        ref={inputRef}
        name="typedConfirmation"
        autoComplete="off"
        spellCheck={false}
        value={value}
        onChange={(event) => onChange(event.target.value)}
        className="rounded-md border border-slate-300 px-2.5 py-1.5 font-mono text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30"
      />
    </label>
  );
}
