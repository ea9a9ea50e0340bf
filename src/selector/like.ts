/**
 * LIKE patterns (JMS 2.0 3.8.1.1): `_` stands for any one character, `%` for any run of characters
 * (possibly none), everything else for itself. A character is a Unicode code point, so `_` matches a
 * surrogate pair whole, as Java's regular expressions do.
 *
 * ESCAPE as in ActiveMQ and Artemis: the escape character before `_`, `%` or itself makes that
 * character literal; anywhere else it has its ordinary meaning.
 *
 * No regular expression is built from the client's pattern: a backtracking engine takes exponential
 * time on patterns such as '%a%a%a%a%b'. The pattern is compiled into a bit-parallel automaton
 * (Shift-And, with `%` as a self-loop): one pass over the value, each character updating one bit per
 * pattern character, 32 at a time. A match costs at most (value length x (pattern length / 32 + 1))
 * steps, whatever the pattern, and stops as soon as the outcome is certain.
 */

export type LikeMatcher = (value: string) => boolean;

/**
 * State j of the automaton: the first j pattern characters (`%`s aside) have matched. Bit j + 1 of
 * a character's mask is set when pattern character j accepts it; bit j of `loops` when a `%` stands
 * before pattern character j (the state may then consume any character and stay).
 */
interface Automaton {
  /** Pattern characters, `%`s aside. */
  readonly length: number;
  readonly words: number;
  /** Masks of the pattern characters that are literal, by code point. */
  readonly literal: ReadonlyMap<number, Uint32Array>;
  /** Mask of the `_`s. */
  readonly any: Uint32Array;
  readonly loops: Uint32Array;
}

export function compileLike(pattern: string, escape: string | null): LikeMatcher {
  const automaton = buildAutomaton(pattern, escape);
  const { length, words, literal, any, loops } = automaton;
  const finalWord = length >>> 5;
  const finalBit = 1 << (length & 31);
  // A trailing % keeps the final state: once reached, the rest of the value cannot undo the match.
  const finalLoops = (loops[finalWord]! & finalBit) !== 0;
  const none = new Uint32Array(words);
  return (value) => {
    const state = new Uint32Array(words);
    state[0] = 1;
    for (let at = 0; at < value.length; ) {
      if (finalLoops && (state[finalWord]! & finalBit) !== 0) return true;
      const codePoint = value.codePointAt(at)!;
      at += codePoint > 0xffff ? 2 : 1;
      const masks = literal.get(codePoint) ?? none;
      let alive = 0;
      // From the highest word down, so that each word still sees the old value of the word below.
      for (let word = words - 1; word >= 0; word--) {
        const carry = word > 0 ? state[word - 1]! >>> 31 : 0;
        const old = state[word]!;
        const next = ((((old << 1) | carry) & (masks[word]! | any[word]!)) | (old & loops[word]!)) >>> 0;
        state[word] = next;
        alive |= next;
      }
      if (alive === 0) return false;
    }
    return (state[finalWord]! & finalBit) !== 0;
  };
}

function buildAutomaton(pattern: string, escape: string | null): Automaton {
  const characters = [...pattern];
  // Pattern characters as code points, -1 for `_`; loopsBefore[j]: a `%` stands before character j.
  const items: number[] = [];
  const loopsBefore = new Set<number>();
  for (let index = 0; index < characters.length; index++) {
    const character = characters[index]!;
    const next = characters[index + 1];
    if (character === escape && (next === '_' || next === '%' || next === escape)) {
      items.push(next.codePointAt(0)!);
      index++;
    } else if (character === '%') {
      loopsBefore.add(items.length);
    } else {
      items.push(character === '_' ? -1 : character.codePointAt(0)!);
    }
  }
  const words = (items.length >>> 5) + 1;
  const literal = new Map<number, Uint32Array>();
  const any = new Uint32Array(words);
  const loops = new Uint32Array(words);
  items.forEach((item, index) => {
    let mask: Uint32Array = any;
    if (item >= 0) {
      mask = literal.get(item) ?? new Uint32Array(words);
      literal.set(item, mask);
    }
    setBit(mask, index + 1);
  });
  for (const position of loopsBefore) setBit(loops, position);
  return { length: items.length, words, literal, any, loops };
}

function setBit(mask: Uint32Array, bit: number): void {
  mask[bit >>> 5]! |= 1 << (bit & 31);
}
