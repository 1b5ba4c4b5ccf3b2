"""The parts of full-recording transcription (`tunesmith.listen.polyphonic`):

- `engine`: basic-pitch's ONNX model on onnxruntime -> frame-wise note posteriors
- `notes`: posteriors -> every note of the mix, with pitch and velocity
- `melody`: the lead line, a Viterbi path over the sounding pitches
- `beats`: tempo and beat times from the onset posterior
- `chords`: a chord symbol per beat, an HMM over chord templates
- `midi`: a transcription as a standard MIDI file with named tracks
"""
