/**
 * robots: a minimal robots.txt reader (User-agent groups, Disallow/Allow prefixes, longest match
 * wins) so the crawler stays out of what a site asks it to. Wildcards beyond a trailing `*` and
 * `$` are not supported; that is enough for a sample crawler.
 */

interface Rule {
  readonly allow: boolean;
  readonly prefix: string;
}

/** Parsed robots.txt rules for one user agent. */
export class Robots {
  readonly #rules: Rule[];

  constructor(text: string, userAgent = '*') {
    this.#rules = parseRobots(text, userAgent.toLowerCase());
  }

  /** Whether `path` (with its query) may be fetched. */
  allows(path: string): boolean {
    let best: Rule | undefined;
    for (const rule of this.#rules) {
      if (
        path.startsWith(rule.prefix) &&
        (best === undefined || rule.prefix.length > best.prefix.length)
      )
        best = rule;
    }
    return best?.allow ?? true;
  }
}

function parseRobots(text: string, agent: string): Rule[] {
  const groups: { agents: string[]; rules: Rule[] }[] = [];
  let current: { agents: string[]; rules: Rule[] } | undefined;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/#.*/, '').trim();
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const field = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (field === 'user-agent') {
      if (!current || current.rules.length > 0) {
        current = { agents: [], rules: [] };
        groups.push(current);
      }
      current.agents.push(value.toLowerCase());
    } else if ((field === 'disallow' || field === 'allow') && current) {
      const prefix = value.replace(/\*$/, '');
      if (field === 'disallow' && prefix === '') continue; // "Disallow:" allows everything
      current.rules.push({ allow: field === 'allow', prefix });
    }
  }
  const specific = groups.find((group) =>
    group.agents.some((name) => name !== '*' && agent.includes(name)),
  );
  return (specific ?? groups.find((group) => group.agents.includes('*')))?.rules ?? [];
}
