// Optional native backends: absent where libtensorflow could not be installed; loaded at run time.
declare module '@tensorflow/tfjs-node';
declare module '@tensorflow/tfjs-node-gpu';
