/** Pages and groups from the spec, in the order they first appear; hidden channels left out. */
import type { ChannelMeta } from "../transport/types.ts";

export interface Group {
  name: string;
  channels: ChannelMeta[];
}

export interface Page {
  name: string;
  groups: Group[];
}

export function pagesOf(channels: readonly ChannelMeta[]): Page[] {
  const pages: Page[] = [];
  const pageIdx = new Map<string, Page>();
  const groupIdx = new Map<string, Group>();
  for (const c of channels) {
    if (c.hidden) continue;
    const pageName = c.page || "Main";
    const groupName = c.group || "";
    let page = pageIdx.get(pageName);
    if (!page) {
      page = { name: pageName, groups: [] };
      pageIdx.set(pageName, page);
      pages.push(page);
    }
    const gk = `${pageName}\u0000${groupName}`;
    let group = groupIdx.get(gk);
    if (!group) {
      group = { name: groupName, channels: [] };
      groupIdx.set(gk, group);
      page.groups.push(group);
    }
    group.channels.push(c);
  }
  return pages;
}

/** Decimal places to show for a number channel (from its step, else a sensible default). */
export function decimalsOf(c: ChannelMeta): number {
  if (c.type === "int") return 0;
  const step = c.step;
  if (step && step > 0) {
    const s = String(step);
    const e = s.indexOf("e-");
    if (e >= 0) return Number(s.slice(e + 2));
    const dot = s.indexOf(".");
    return dot < 0 ? 0 : s.length - dot - 1;
  }
  const span = c.min !== undefined && c.max !== undefined ? Math.abs(c.max - c.min) : 100;
  return span <= 1 ? 3 : span <= 10 ? 2 : span <= 1000 ? 1 : 0;
}

export function formatNumber(v: unknown, c: ChannelMeta): string {
  return typeof v === "number" && Number.isFinite(v) ? v.toFixed(decimalsOf(c)) : "–";
}

/** Input `step` for a number channel. */
export function stepOf(c: ChannelMeta): number | "any" {
  if (c.step && c.step > 0) return c.step;
  if (c.type === "int") return 1;
  return "any";
}

/** Whether a channel gets a slider (bounded numbers). */
export function hasSlider(c: ChannelMeta): boolean {
  return (c.type === "float" || c.type === "int") && c.min !== undefined &&
    c.max !== undefined && c.max > c.min;
}
