package org.wanmig.planner;

/**
 * Layout of the 64-bit cookie of every wanmig rule, so the rules of one migration (or one
 * server's routes) can be found on any switch, by ONOS or by reading the switch directly:
 * <pre>
 *  63..48  app     the application's short id, as ONOS expects of every cookie (ONOS derives a
 *                  rule's app id from these bits); the embedded runtime uses 0x57A9
 *  47..44  kind    1 server route, 2 migration (its per-server rules), 3 infrastructure (ARP to
 *                  controller), 4 site route, 5 a DC pair's shared tunnel, 6 a DC's prefix route
 *  43..20  owner   server number, migration id, site number, the tunnel's forward label, DC number
 *                  (24 bits)
 *  19..0   rule    index of the rule within its owner
 * </pre>
 */
public final class Cookies {
    /** The application id of the embedded runtime, and so the tag of every rule it installs. */
    public static final short EMBEDDED_APP_ID = 0x57A9;
    public static final long TAG = (long) EMBEDDED_APP_ID << 48;
    public static final long TAG_MASK = 0xFFFFL << 48;
    public static final int KIND_SERVER_ROUTE = 1;
    public static final int KIND_MIGRATION = 2;
    public static final int KIND_INFRASTRUCTURE = 3;
    public static final int KIND_SITE_ROUTE = 4;
    /** The label rules of a DC pair's tunnel, shared by every migration holding its labels. */
    public static final int KIND_TUNNEL = 5;
    /** A DC's aggregate route (its configured prefix). */
    public static final int KIND_DC_ROUTE = 6;
    public static final long OWNER_MASK = (1L << 24) - 1;
    public static final long RULE_MASK = (1L << 20) - 1;

    private Cookies() {
    }

    public static long cookie(int kind, long owner, long rule) {
        return cookie(EMBEDDED_APP_ID, kind, owner, rule);
    }

    /** A cookie of the application with short id {@code app}. */
    public static long cookie(short app, int kind, long owner, long rule) {
        if (owner < 0 || owner > OWNER_MASK || rule < 0 || rule > RULE_MASK) {
            throw new IllegalArgumentException("cookie field out of range: owner " + owner + " rule " + rule);
        }
        return ((app & 0xFFFFL) << 48) | ((long) kind << 44) | (owner << 20) | rule;
    }

    /** Whether the cookie carries the embedded runtime's tag. */
    public static boolean isOurs(long cookie) {
        return (cookie & TAG_MASK) == TAG;
    }

    public static int kind(long cookie) {
        return (int) ((cookie >>> 44) & 0xF);
    }

    public static long owner(long cookie) {
        return (cookie >>> 20) & OWNER_MASK;
    }

    /** Whether the cookie marks a rule of migration {@code id} (of whichever app id). */
    public static boolean ofMigration(long cookie, long id) {
        return kind(cookie) == KIND_MIGRATION && owner(cookie) == id;
    }
}
