/**
 * robots: what one origin's robots.txt allows, read with robots-parser (RFC 9309: the group whose
 * product token matches the user agent, else `*`; the longest matching Allow/Disallow wins, an
 * Allow on a tie; `*` and `$` in patterns; Crawl-delay). It parses; fetching is the handler's.
 */
import robotsParserModule from 'robots-parser';

/** The part of robots-parser's Robot this file uses. */
interface Parsed {
  isAllowed(url: string, ua?: string): boolean | undefined;
  getCrawlDelay(ua?: string): number | undefined;
}
// robots-parser is CommonJS (module.exports = function); its typings declare a default export.
const robotsParser = robotsParserModule as unknown as (url: string, text: string) => Parsed;

/** Parsed robots.txt rules of one origin, for one user agent. */
export class Robots {
  readonly #robots: Parsed;
  readonly #origin: string;
  readonly #userAgent: string;

  /**
   * @param text the robots.txt body ('' allows everything)
   * @param userAgent the crawler's User-Agent; its product token (before `/`) selects the group
   * @param origin the origin the file came from
   */
  constructor(text: string, userAgent = '*', origin = 'http://robots.invalid') {
    this.#origin = new URL(origin).origin;
    this.#robots = robotsParser(`${this.#origin}/robots.txt`, text);
    this.#userAgent = userAgent;
  }

  /** A robots.txt that allows everything (a 4xx answer, per RFC 9309). */
  static allowAll(origin?: string): Robots {
    return new Robots('', '*', origin);
  }

  /** A robots.txt that disallows everything. */
  static disallowAll(origin?: string): Robots {
    return new Robots('User-agent: *\nDisallow: /\n', '*', origin);
  }

  /** Whether a path (with its query) or an absolute URL of this origin may be fetched. */
  allows(pathOrUrl: string): boolean {
    const url = pathOrUrl.startsWith('/') ? `${this.#origin}${pathOrUrl}` : pathOrUrl;
    return this.#robots.isAllowed(url, this.#userAgent) !== false;
  }

  /** The Crawl-delay of the matching group, in seconds, if there is one. */
  crawlDelaySeconds(): number | undefined {
    const delay = this.#robots.getCrawlDelay(this.#userAgent);
    return typeof delay === 'number' && Number.isFinite(delay) && delay > 0 ? delay : undefined;
  }
}
