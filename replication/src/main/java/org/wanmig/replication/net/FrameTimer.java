package org.wanmig.replication.net;

/** Told by a codec when a frame's first byte has arrived and when the frame is complete. */
public interface FrameTimer {
    FrameTimer NONE = new FrameTimer() {
        @Override
        public void frameStarted() {
        }

        @Override
        public void frameDone() {
        }
    };

    void frameStarted();

    void frameDone();
}
