/**
 * Name patterns, as used by queue options and by role permissions: `*` matches any run of characters
 * (also none, also dots); every other character stands for itself.
 */
export function patternRegex(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 's');
}

