package org.wanmig.replication.net;

/**
 * Makes untrusted text (export names, peer error messages, parser messages quoting input) safe to
 * put in a log line: control characters, line and paragraph separators and bidi overrides become
 * visible escapes, so a client cannot end a line and forge another; long text is cut. Backslashes
 * are left alone, so escaping twice changes nothing (a literal "\n" in the input is harmless text).
 */
public final class LogSafe {
    public static final int MAX_LENGTH = 200;

    private LogSafe() {
    }

    public static String escape(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder(Math.min(s.length(), MAX_LENGTH) + 16);
        for (int i = 0; i < s.length(); i++) {
            if (b.length() >= MAX_LENGTH) {
                b.append("...(").append(s.length()).append(" chars)");
                break;
            }
            char c = s.charAt(i);
            switch (c) {
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029
                            || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0xfeff) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.toString();
    }

    /** Bytes from the wire, decoded as UTF-8 (malformed sequences replaced), then escaped. */
    public static String escape(byte[] utf8) {
        return escape(new String(utf8, java.nio.charset.StandardCharsets.UTF_8));
    }
}
