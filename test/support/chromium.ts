// Loads an HTML file in Debian's headless chromium and reports what the page did: script errors,
// whether anything overflows the window, and each section's and chart's rendered size. A small
// probe script is added to a copy of the page (the report itself has none); chromium lays it out.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface PageCheck {
  errors: string[];
  scrollWidth: number;
  innerWidth: number;
  sections: Array<{ id: string; height: number }>;
  svgs: Array<{ label: string; width: number; height: number }>;
  /** elements wider than the window (id or tag) */
  overflowing: string[];
}

const PROBE_HEAD = '<script>window.__errors=[];addEventListener("error",(e)=>__errors.push(String(e.message)));</script>';
const PROBE_BODY = `<script>addEventListener("load",()=>{const w=innerWidth;const r={errors:__errors,scrollWidth:document.documentElement.scrollWidth,innerWidth:w,
sections:[...document.querySelectorAll("section")].map((s)=>({id:s.id,height:s.getBoundingClientRect().height})),
svgs:[...document.querySelectorAll("svg")].map((s)=>{const b=s.getBoundingClientRect();return{label:s.getAttribute("aria-label")||"",width:b.width,height:b.height};}),
overflowing:[...document.querySelectorAll("body *")].filter((e)=>e.getBoundingClientRect().right>w+1&&!e.closest(".wide")).map((e)=>e.id||e.tagName)};
const pre=document.createElement("pre");pre.id="fedrad-check";pre.textContent=JSON.stringify(r);document.body.appendChild(pre);});</script>`;

export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export async function checkPageInChromium(html: string, width = 1280): Promise<PageCheck> {
  const dir = await mkdtemp(join(tmpdir(), 'fedrad-chromium-'));
  try {
    const page = join(dir, 'page.html');
    await writeFile(page, html.replace('<head>', `<head>${PROBE_HEAD}`).replace('</body>', `${PROBE_BODY}</body>`));
    const { stdout } = await promisify(execFile)('chromium', [...CHROMIUM_FLAGS, `--user-data-dir=${join(dir, 'profile')}`, `--window-size=${width},900`, '--virtual-time-budget=5000', '--dump-dom', `file://${page}`], { maxBuffer: 64 << 20, timeout: 60_000 });
    const m = /<pre id="fedrad-check">([\s\S]*?)<\/pre>/.exec(stdout);
    if (!m) throw new Error(`chromium did not run the probe; the DOM began: ${stdout.slice(0, 300)}`);
    const text = m[1].replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    return JSON.parse(text) as PageCheck;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
