import { NavLink, useLocation } from "@remix-run/react";
import { useEffect, useRef, useState } from "react";

/**
 * The admin navigation: a column from 768 px up, a row that scrolls sideways below. On a narrow
 * screen the active tab is scrolled into view on every navigation, and a fade and an arrow at the
 * row's end say there is more while it can still scroll.
 */
export function AdminNav({ items }: { items: readonly { to: string; label: string; end: boolean }[] }) {
  const row = useRef<HTMLElement>(null);
  const location = useLocation();
  const [more, setMore] = useState(false);

  useEffect(() => {
    const nav = row.current;
    if (!nav) return;
    const update = () => setMore(nav.scrollLeft + nav.clientWidth < nav.scrollWidth - 2);
    const active = nav.querySelector<HTMLElement>('[aria-current="page"]');
    if (active && nav.scrollWidth > nav.clientWidth) {
      nav.scrollLeft = Math.max(0, active.offsetLeft - (nav.clientWidth - active.offsetWidth) / 2);
    }
    update();
    nav.addEventListener("scroll", update, { passive: true });
    window.addEventListener("resize", update);
    return () => {
      nav.removeEventListener("scroll", update);
      window.removeEventListener("resize", update);
    };
  }, [location.pathname]);

  return (
    <div className="relative">
      <nav ref={row} aria-label="Admin" className="flex gap-1 overflow-x-auto md:flex-col" data-scrolls-more={more ? "true" : "false"}>
        {items.map((item) => (
          <NavLink
            key={item.to}
            to={item.to}
            end={item.end}
            prefetch="intent"
            className={({ isActive }) =>
              `whitespace-nowrap rounded-md px-3 py-2 text-sm font-medium ${
                isActive ? "bg-indigo-50 text-indigo-700" : "text-slate-600 hover:bg-slate-100 hover:text-slate-900"
              }`
            }
          >
            {item.label}
          </NavLink>
        ))}
      </nav>
      {more ? (
        <div aria-hidden className="pointer-events-none absolute inset-y-0 right-0 flex w-12 items-center justify-end bg-gradient-to-l from-white via-white/90 to-transparent pr-1 text-slate-500 md:hidden">
          ›
        </div>
      ) : null}
    </div>
  );
}
