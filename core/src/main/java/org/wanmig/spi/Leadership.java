package org.wanmig.spi;

/** Decides which instance drives migrations: exactly one at a time in a cluster. */
public interface Leadership {

    /** Whether this instance drives migrations now. */
    boolean isLeader();

    /** Who drives them, for error messages; null when unknown. */
    String leader();

    /** One instance, always leader: the embedded runtime. */
    Leadership STANDALONE = new Leadership() {
        @Override
        public boolean isLeader() {
            return true;
        }

        @Override
        public String leader() {
            return "local";
        }
    };
}
