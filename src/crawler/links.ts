/**
 * links: turns a fetched body into what the crawler needs — its text (decoded by the declared
 * charset), its title and its links — with htmlparser2, a streaming tokenizer that builds no tree.
 * Links are `<a href>` (and `<area href>`) elements as the parser sees them: nothing inside
 * comments, `<script>`, `<style>` or `<template>`; entities decoded; resolved against `<base href>`.
 * It also normalizes URLs so that one page has one URL. It does no I/O.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { TextDecoder } from 'node:util';
import type { Parser as HtmlParser } from 'htmlparser2';
import { normalizeUrl } from './urls.js';

const require = createRequire(import.meta.url);

/**
 * The file of htmlparser2's Parser: beside its package's main module. The package exports only
 * its root, which also loads domhandler, domutils and dom-serializer (DOM building, feeds) that
 * the crawler never uses: 2.3 MiB more in every worker process and 40–100 ms more to start it.
 * test/crawler/building-blocks.test.ts checks that the file is there.
 */
export function parserFile(): string {
  return path.join(path.dirname(require.resolve('htmlparser2')), 'Parser.js');
}

/** htmlparser2's Parser, loaded alone (the package root if a later version moved the file). */
function loadParser(): typeof HtmlParser {
  try {
    const { Parser } = require(parserFile()) as { Parser?: typeof HtmlParser };
    if (typeof Parser === 'function') return Parser;
  } catch {
    // moved or renamed: the root has it
  }
  return (require('htmlparser2') as { Parser: typeof HtmlParser }).Parser;
}

const Parser = loadParser();

export { normalizeUrl };

/** Whether a Content-Type names an HTML document (case-insensitive; parameters ignored). */
export function isHtml(contentType: string): boolean {
  const type = mediaType(contentType);
  return type === 'text/html' || type === 'application/xhtml+xml';
}

/** `text/html` from `Text/HTML; charset=UTF-8`. */
export function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

const CHARSET_PARAMETER = /;\s*charset\s*=\s*(?:"([^"]*)"|([^\s;]+))/i;
/** `<meta charset=x>` or `<meta http-equiv=content-type content="...; charset=x">` in the prescan. */
const META_CHARSET = /<meta[^>]+charset\s*=\s*["']?\s*([-\w.:]+)/i;
/** How many bytes the HTML prescan looks at for a `<meta>` charset (as browsers do). */
const PRESCAN_BYTES = 1024;

/**
 * Decoders by label, made once (a decode() without `stream` keeps no state between calls; a new
 * TextDecoder per page was 1 % of a worker's CPU); null: not a WHATWG encoding label. Bounded:
 * the labels come from the pages.
 */
const decoders = new Map<string, TextDecoder | null>();
const DECODERS_MAX = 64;

function decoderFor(label: string | undefined): TextDecoder | undefined {
  if (!label) return undefined;
  const key = label.trim().toLowerCase();
  let decoder = decoders.get(key);
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(key);
    } catch {
      decoder = null;
    }
    if (decoders.size >= DECODERS_MAX) decoders.clear();
    decoders.set(key, decoder);
  }
  return decoder ?? undefined;
}

/**
 * Decodes a body: a BOM wins, then the Content-Type charset, then (for HTML) a `<meta>` charset
 * in the first 1024 bytes, then UTF-8. Labels are the WHATWG ones (`latin1` is windows-1252).
 * Malformed bytes become U+FFFD; it never throws.
 */
export function decodeBody(body: Uint8Array, contentType = ''): { text: string; charset: string } {
  let decoder: TextDecoder | undefined;
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) decoder = decoderFor('utf-8');
  else if (body[0] === 0xff && body[1] === 0xfe) decoder = decoderFor('utf-16le');
  else if (body[0] === 0xfe && body[1] === 0xff) decoder = decoderFor('utf-16be');
  if (!decoder) {
    const parameter = CHARSET_PARAMETER.exec(contentType);
    decoder = decoderFor(parameter?.[1] ?? parameter?.[2]);
  }
  if (!decoder && isHtml(contentType || 'text/html')) {
    const head = Buffer.from(body.buffer, body.byteOffset, Math.min(body.length, PRESCAN_BYTES));
    decoder = decoderFor(META_CHARSET.exec(head.toString('latin1'))?.[1]);
    // A page that says utf-16 in a <meta> was read as ASCII: it cannot be UTF-16 (HTML spec).
    if (decoder?.encoding.startsWith('utf-16')) decoder = decoderFor('utf-8');
  }
  decoder ??= decoderFor('utf-8')!;
  return { text: decoder.decode(body), charset: decoder.encoding };
}

/** What `parseHtml` finds in a page. */
export interface ParsedPage {
  /** The `<title>` text, whitespace collapsed, or ''. */
  readonly title: string;
  /** Absolute, normalized, de-duplicated http(s) links, in page order. */
  readonly links: string[];
  /** The URL links were resolved against (the page's, or its `<base href>`). */
  readonly baseUrl: string;
}

/** Elements whose content is never a link (the tokenizer already reads script/style as text). */
const IGNORED = new Set(['template', 'script', 'style']);

/** Parses an HTML document (already decoded) and returns its title and links. */
export function parseHtml(html: string, pageUrl: string): ParsedPage {
  const hrefs: string[] = [];
  let base: string | undefined;
  let title = '';
  let inTitle = false;
  let sawTitle = false;
  let ignoredDepth = 0;
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        if (IGNORED.has(name)) {
          ignoredDepth++;
          return;
        }
        if (ignoredDepth > 0) return;
        if ((name === 'a' || name === 'area') && attributes.href !== undefined)
          hrefs.push(attributes.href);
        else if (name === 'base' && base === undefined && attributes.href !== undefined)
          base = attributes.href;
        else if (name === 'title' && !sawTitle) inTitle = true;
      },
      ontext(text) {
        if (inTitle) title += text;
      },
      onclosetag(name) {
        if (IGNORED.has(name)) ignoredDepth = Math.max(0, ignoredDepth - 1);
        else if (name === 'title' && inTitle) {
          inTitle = false;
          sawTitle = true;
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.end(html);
  // The first <base href> applies to the whole document, links before it included.
  const baseUrl = (base !== undefined && normalizeBase(base.trim(), pageUrl)) || pageUrl;
  const links = new Set<string>();
  for (const href of hrefs) {
    const url = normalizeUrl(href.trim(), baseUrl);
    if (url !== null) links.add(url);
  }
  return { title: title.replace(/\s+/g, ' ').trim(), links: [...links], baseUrl };
}

function normalizeBase(href: string, pageUrl: string): string | undefined {
  try {
    return new URL(href, pageUrl).href;
  } catch {
    return undefined;
  }
}

/** Absolute, normalized, de-duplicated links of `html`, in page order. */
export function extractLinks(html: string, pageUrl: string): string[] {
  return parseHtml(html, pageUrl).links;
}

/** The page's `<title>`, trimmed, or ''. */
export function extractTitle(html: string): string {
  return parseHtml(html, 'http://localhost/').title;
}
