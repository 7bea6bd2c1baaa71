// The one place the project imports TensorFlow.js from, so every module shares one engine.
// The union package is used because it registers the gradients and chained ops that tfjs-core alone leaves out.
import * as tf from '@tensorflow/tfjs';

tf.env().set('PROD', true);

export { tf };
export type Tensor = tf.Tensor;
