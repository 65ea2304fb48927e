package org.wanmig.embedded.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.wanmig.api.Evacuation;
import org.wanmig.codec.EvacuationCodec;
import org.wanmig.codec.WanmigCodecContext;
import org.wanmig.store.InMemoryEvacuationStore;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Evacuation records of the embedded runtime, one JSON file per record ({@code evacuations/<id>.json},
 * the codec's JSON), each rewritten atomically (write, fsync, rename) on every change: an evacuation
 * record grows with its servers, so one file per record keeps a change's write to that record.
 * A restarted runtime reads them all and its runner resumes the active ones.
 */
public final class FileEvacuationStore extends InMemoryEvacuationStore {
    private final Path dir;
    private final EvacuationCodec codec = new EvacuationCodec();
    private final WanmigCodecContext context = new WanmigCodecContext(Map.of());
    private final ObjectMapper mapper = context.mapper();

    public FileEvacuationStore(Path stateDir) {
        this.dir = stateDir.resolve("evacuations");
        try {
            Files.createDirectories(dir);
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.json")) {
                for (Path f : files) {
                    JsonNode node = mapper.readTree(Files.readString(f));
                    if (!(node instanceof ObjectNode)) {
                        throw new IOException(f + " does not hold a JSON object");
                    }
                    super.put(codec.decode((ObjectNode) node, context));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir, e);
        }
    }

    /** The file of the record with this id. */
    public Path file(long id) {
        return dir.resolve(id + ".json");
    }

    @Override
    public synchronized void put(Evacuation evacuation) {
        Path file = file(evacuation.id().value());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.wrap(mapper.writerWithDefaultPrettyPrinter()
                    .writeValueAsString(codec.encode(evacuation, context)).getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + tmp, e);
        }
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot replace " + file, e);
        }
        super.put(evacuation); // in memory only once on disk: what readers see survives a crash
    }
}
