package org.wanmig.codec;

import org.onosproject.codec.JsonCodec;
import org.wanmig.api.Evacuation;
import org.wanmig.api.Migration;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;

import java.util.Map;

/** Every codec of wanmig: registered with ONOS's CodecService, or used directly by the embedded runtime. */
public final class WanmigCodecs {
    private WanmigCodecs() {
    }

    public static Map<Class<?>, JsonCodec<?>> all() {
        return Map.of(Migration.class, new MigrationCodec(),
                DataCenter.class, new DataCenterCodec(),
                VirtualServer.class, new VirtualServerCodec(),
                Evacuation.class, new EvacuationCodec());
    }
}
