package org.wanmig.replication.nbd;

import java.util.List;

/** The NBD server's view of the disks it may serve. */
public interface Exports {
    /** The export of that name, or null. The empty name selects the default (first) export. */
    BlockDevice find(String name);

    List<String> names();
}
