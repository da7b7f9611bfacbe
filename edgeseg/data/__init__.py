"""Data: the ShapesWorld generator, COCO/panoptic readers and writers, video sources."""
