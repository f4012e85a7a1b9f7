/** The kubelet twin; its parts are in ./kubelet/ (see ./kubelet/index.ts). */
export { HOST_IP, PORT_ANNOTATION, TEST_APP_IMAGE, resolveContainerCommand, sleepSecondsOf, startKubelets, type KubeletDeps, type Kubelets, type LogRequest } from './kubelet/index.ts';
