/**
 * The page <-> worker message protocol's version. Bump it whenever a message
 * in messages.ts changes shape or meaning: after an upgrade an old worker can
 * still control a page that loaded the new page module (or the reverse), and
 * both sides compare this number before they rely on each other.
 */
export const PROTOCOL_VERSION = 2
