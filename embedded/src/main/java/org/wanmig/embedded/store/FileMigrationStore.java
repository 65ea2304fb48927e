package org.wanmig.embedded.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.wanmig.api.Migration;
import org.wanmig.codec.MigrationCodec;
import org.wanmig.codec.WanmigCodecContext;
import org.wanmig.store.InMemoryMigrationStore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.Map;

/**
 * Migration records and placements kept in one JSON file, rewritten atomically (write, fsync,
 * rename) on every change, so a runtime killed at any instant restarts from the last transition.
 */
public final class FileMigrationStore extends InMemoryMigrationStore {
    private final Path file;
    private final MigrationCodec codec = new MigrationCodec();
    private final WanmigCodecContext context = new WanmigCodecContext(Map.of());
    private final ObjectMapper mapper = context.mapper();

    public FileMigrationStore(Path stateDir) {
        this.file = stateDir.resolve("migrations.json");
        try {
            Files.createDirectories(stateDir);
            if (Files.exists(file)) {
                load(mapper.readTree(Files.readString(file)));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    public Path file() {
        return file;
    }

    private void load(JsonNode root) {
        for (JsonNode m : root.path("migrations")) {
            super.put(codec.decode((ObjectNode) m, context));
        }
        Iterator<Map.Entry<String, JsonNode>> it = root.path("placements").fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            super.setPlacement(e.getKey(), e.getValue().asText());
        }
    }

    @Override
    public synchronized void put(Migration migration) {
        super.put(migration);
        save();
    }

    @Override
    public synchronized void setPlacement(String server, String dataCenter) {
        super.setPlacement(server, dataCenter);
        save();
    }

    private void save() {
        ObjectNode root = mapper.createObjectNode();
        ArrayNode list = root.putArray("migrations");
        all().stream().sorted((a, b) -> a.id().compareTo(b.id())).forEach(m -> list.add(codec.encode(m, context)));
        ObjectNode placements = root.putObject("placements");
        placements().forEach(placements::put);
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(java.nio.ByteBuffer.wrap(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(root)
                    .getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + tmp, e);
        }
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot replace " + file, e);
        }
    }
}
