package org.wanmig.codec;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.wanmig.api.Migration;
import org.wanmig.api.MigrationId;
import org.wanmig.api.MigrationService;
import org.wanmig.api.MigrationState;
import org.wanmig.api.TunnelLabels;
import org.wanmig.config.DataCenter;
import org.wanmig.config.VirtualServer;
import org.wanmig.config.WanTopology;
import org.wanmig.lifecycle.MigrationManager;
import org.wanmig.spi.Leadership;
import org.wanmig.store.InMemoryMigrationStore;
import org.wanmig.testing.FakeHypervisor;
import org.wanmig.testing.FakeNetwork;
import org.wanmig.testing.FakeReplication;
import org.wanmig.testing.Topologies;

import java.net.URI;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CodecTest {
    private MigrationManager manager;

    @AfterEach
    void stop() {
        if (manager != null) {
            manager.shutdown();
        }
    }

    private WanmigCodecContext context() throws Exception {
        WanTopology t = Topologies.topology(Topologies.TWO_DC_TWO_SERVERS);
        manager = new MigrationManager(t, Topologies.APP_ID, new FakeNetwork(), x -> new FakeHypervisor(),
                new FakeReplication(), new InMemoryMigrationStore(), Leadership.STANDALONE, Clock.systemUTC());
        manager.takeOver().get(10, TimeUnit.SECONDS);
        return new WanmigCodecContext(Map.of(MigrationService.class, manager));
    }

    private static Migration failedMigration() {
        return Migration.requested(MigrationId.of(12), "vs1", "dcA", "dcB", 2,
                        new TunnelLabels(1000, Map.of("site1", 1001, "site2", 1002)), 1_700_000_000_000L)
                .transition(MigrationState.PREPARING, 1_700_000_000_010L, "installing tunnel")
                .transition(MigrationState.MIGRATING, 1_700_000_000_020L, "copying \"vs1\" ünïcode")
                .withError("hypervisor failed: out of memory")
                .transition(MigrationState.FAILED, 1_700_000_000_030L, "");
    }

    @Test
    void migrationRoundTripsWithTimelineLabelsAndError() throws Exception {
        WanmigCodecContext ctx = context();
        Migration m = failedMigration();
        ObjectNode json = new MigrationCodec().encode(m, ctx);
        Migration back = new MigrationCodec().decode((ObjectNode) ctx.mapper().readTree(json.toString()), ctx);
        assertEquals(m, back);
        assertEquals("FAILED", json.get("state").asText());
        assertFalse(json.get("active").asBoolean());
        assertEquals("2023-11-14T22:13:20.010Z", json.get("timeline").get(1).get("time").asText());
        assertEquals(1002, json.get("labels").get("reverse").get("site2").asInt());
    }

    @Test
    void migrationWithoutErrorRoundTrips() throws Exception {
        WanmigCodecContext ctx = context();
        Migration m = Migration.requested(MigrationId.of(MigrationId.MAX), "vs2", "dcB", "dcA", 3,
                new TunnelLabels(16, Map.of()), 5);
        ObjectNode json = ctx.codec(Migration.class).encode(m, ctx);
        assertTrue(json.get("error").isNull());
        assertTrue(json.get("active").asBoolean());
        assertEquals(m, ctx.codec(Migration.class).decode(json, ctx));
    }

    @Test
    void dataCenterShowsPortsAndAgentButNeverTheToken() throws Exception {
        WanmigCodecContext ctx = context();
        DataCenter dc = new DataCenter("dcX", org.onosproject.net.DeviceId.deviceId("of:000000000000000c"),
                List.of(org.onosproject.net.PortNumber.portNumber(1)),
                List.of(org.onosproject.net.PortNumber.portNumber(2), org.onosproject.net.PortNumber.portNumber(3)),
                URI.create("http://10.9.0.1:8400"), "s3cret");
        ObjectNode json = ctx.codec(DataCenter.class).encode(dc, ctx);
        assertEquals("dcX", json.get("name").asText());
        assertEquals("of:000000000000000c", json.get("pe").asText());
        assertEquals("[1]", json.get("wanPorts").toString());
        assertEquals("[2,3]", json.get("serverPorts").toString());
        assertEquals("http://10.9.0.1:8400", json.get("agent").asText());
        assertFalse(json.toString().contains("s3cret"), json.toString());
        DataCenter none = manager.dataCenters().iterator().next();
        assertTrue(ctx.codec(DataCenter.class).encode(none, ctx).get("agent").isNull());
    }

    @Test
    void virtualServerShowsLocationAndActiveMigration() throws Exception {
        WanmigCodecContext ctx = context();
        VirtualServer vs1 = manager.topology().server("vs1").orElseThrow();
        ObjectNode idle = ctx.codec(VirtualServer.class).encode(vs1, ctx);
        assertEquals("vs1", idle.get("name").asText());
        assertEquals("10.2.0.10", idle.get("ip").asText());
        assertEquals("00:00:00:00:02:10", idle.get("mac").asText());
        assertEquals("10.2.0.254", idle.get("gateway").asText());
        assertEquals("dcA", idle.get("configuredDc").asText());
        assertEquals("dcA", idle.get("location").asText());
        assertTrue(idle.get("migration").isNull());
        assertEquals(2, idle.get("ports").get("dcB").asInt());
        Migration m = manager.startMigration("vs1", "dcB");
        ObjectNode moving = ctx.codec(VirtualServer.class).encode(vs1, ctx);
        assertEquals(m.id().value(), moving.get("migration").asLong());
    }

    @Test
    void dataCenterAndServerDecodeWhatTheyEncode() throws Exception {
        WanmigCodecContext ctx = context();
        for (DataCenter dc : manager.dataCenters()) {
            assertEquals(dc, ctx.codec(DataCenter.class).decode(ctx.codec(DataCenter.class).encode(dc, ctx), ctx));
        }
        for (VirtualServer v : manager.servers()) {
            assertEquals(v, ctx.codec(VirtualServer.class).decode(ctx.codec(VirtualServer.class).encode(v, ctx), ctx));
        }
    }
}
