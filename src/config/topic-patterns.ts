import { patternRegex } from './patterns';
import { ConfigError } from './validation';

/**
 * The `topics` option: names and patterns (`*` matches any run of characters, as for queue options)
 * of the addresses that are topics before any client says so. A client can also make an address a topic
 * on first use (source or target capability `topic`); configuring it makes the name a topic for clients
 * that do not say (rhea, Proton, the anonymous relay).
 */
export function checkTopicPatterns(input: unknown, field: string): readonly string[] {
  if (!Array.isArray(input)) throw new ConfigError(field, 'an array of topic names or patterns', input);
  return input.map((pattern: unknown, index) => {
    const path = `${field}[${index}]`;
    if (typeof pattern !== 'string' || pattern.length === 0) throw new ConfigError(path, 'a non-empty string', pattern);
    if (pattern.includes('::')) throw new ConfigError(path, 'a name without "::" (it separates a topic from its subscription)', pattern);
    return pattern;
  });
}

/** Whether the configuration declares `name` a topic. */
export function topicMatcher(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set(patterns.filter((pattern) => !pattern.includes('*')));
  const regexes = patterns.filter((pattern) => pattern.includes('*')).map(patternRegex);
  return (name) => exact.has(name) || regexes.some((regex) => regex.test(name));
}
