"""How damaged dataset files are treated: the check modes and the help texts that the
programs' flags and the TFRecord reader (svg_tf.datasets.records) share. Kept free of
TensorFlow, so that the programs check their flags before it loads."""

VERIFY_MODES = ("headers", "full", "none")
VERIFY_HELP = ("TFRecord check before reading (KTH, BAIR): headers (every record's length "
               "and its CRC, seeking over payloads: finds truncated and damaged files "
               "quickly), full (also every payload CRC: reads all the data once) or none.")
SKIP_CORRUPT_HELP = ("Skip damaged TFRecord files (KTH, BAIR) instead of stopping: found "
                     "before reading, or met while training (the file is named, dropped and "
                     "counted in the log and TensorBoard's data/skipped_files).")
# Dataset option -> command-line flag, for every dataset read from TFRecord shards.
CLI_OPTIONS = {"verify": "verify_data", "skip_corrupt": "skip_corrupt"}
