package org.wanmig.replication.cli;

import java.io.PrintStream;

/** Test access to ReplCtl.run without System.exit. */
public final class ReplCtlAccess {
    private ReplCtlAccess() {
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        return ReplCtl.run(args, out, err);
    }
}
